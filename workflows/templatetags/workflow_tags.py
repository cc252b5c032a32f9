from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from workflows.icons import icon_svg

register = template.Library()


@register.simple_tag
def node_icon(name: str, css_class: str = "icon") -> SafeString:
    """`{% node_icon node.icon %}`: the node type's inline SVG icon."""
    return icon_svg(str(name), css_class)
