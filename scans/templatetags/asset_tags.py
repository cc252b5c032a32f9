"""`{% asset_summary asset %}`: the one-line summary of an asset beside its value in the inventory
list, an asset's children and a scan's panel (a URL's status, title, redirect and first
technologies; a service's product and TLS; a domain's addresses; …).

Written in Python rather than as an included template: the list and an asset page show 50 of them
per request, and the include with its filters was over a third of those pages' CPU."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

register = template.Library()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _cut(value: Any, length: int) -> str:
    return Truncator(_text(value)).chars(length)


def _joined(values: Any) -> str:
    return (
        ", ".join(_text(v) for v in values) if isinstance(values, list | tuple) else _text(values)
    )


@register.simple_tag
def asset_summary(asset: Any) -> SafeString:
    attrs = asset.attrs if isinstance(asset.attrs, dict) else {}
    kind = asset.kind
    if kind == "url":
        parts = []
        if asset.status_code:
            status = str(asset.status_code)
            parts.append(
                format_html('<span class="http-status s{}">{}</span> ', status[:1], status)
            )
        parts.append(conditional_escape(_cut(attrs.get("title") or "", 60)))
        if attrs.get("redirect_to"):
            parts.append(
                format_html(' <span class="muted">→ {}</span>', _cut(attrs["redirect_to"], 50))
            )
        for tech in (attrs.get("technologies") or [])[:3]:
            if isinstance(tech, dict):
                version = f" {tech['version']}" if tech.get("version") else ""
                parts.append(
                    format_html(
                        ' <span class="badge">{}{}</span>', _text(tech.get("name")), version
                    )
                )
        return mark_safe("".join(parts))  # noqa: S308  every part above is escaped
    if kind == "service":
        words = " ".join(_text(attrs.get(name) or "") for name in ("service", "product", "version"))
        tls = SafeString(' <span class="badge">TLS</span>') if attrs.get("tls") else ""
        return format_html("{}{}", words, tls)
    if kind == "domain":
        if not attrs.get("addresses"):
            return SafeString("")
        return format_html('<span class="muted">→</span> {}', _cut(_joined(attrs["addresses"]), 60))
    if kind == "ip":
        names = _cut(_joined(attrs["reverse_dns"]), 60) if attrs.get("reverse_dns") else ""
        if attrs.get("org"):
            org = format_html(
                ' <span class="muted">{} {}</span>', _text(attrs.get("asn") or ""), attrs["org"]
            )
            return format_html("{}{}", names, org)
        return format_html("{}", names)
    if kind == "certificate":
        name = attrs.get("common_name") or attrs.get("subject")
        until = _text(attrs.get("not_after"))[:10]
        return format_html('{} <span class="muted">until {}</span>', _cut(name, 50), until)
    if kind == "technology":
        category = (
            format_html(' <span class="muted">{}</span>', attrs["category"])
            if attrs.get("category")
            else ""
        )
        return format_html("{}{}", _text(attrs.get("name")), category)
    if kind == "image":
        digest = (
            format_html(' <code class="muted">{}</code>', _cut(attrs["digest"], 20))
            if attrs.get("digest")
            else ""
        )
        return format_html("{}{}", _text(attrs.get("os") or ""), digest)
    return SafeString('<span class="muted">—</span>')
