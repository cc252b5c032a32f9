"""How a target is shown: internationalized domain names in Unicode, with the stored punycode
beside them (people read "bücher.example"; scope, tools and the database use the ASCII form)."""

from __future__ import annotations

from urllib.parse import urlsplit

import idna
from django import template

register = template.Library()


def _host_unicode(host: str) -> str:
    prefix = "*." if host.startswith("*.") else ""
    bare = host[len(prefix) :]
    if "xn--" not in bare.lower():
        return host
    try:
        return prefix + idna.decode(bare)
    except (idna.IDNAError, UnicodeError, ValueError):
        return host  # not valid IDNA: shown as stored rather than guessed


@register.filter
def idn_unicode(value: str) -> str:
    """A domain (or a URL's host) in Unicode; other values unchanged."""
    value = str(value)
    if "://" in value:
        host = urlsplit(value).hostname or ""
        shown = _host_unicode(host)
        return value.replace(host, shown, 1) if shown != host else value
    return _host_unicode(value)


@register.filter
def target_kinds(queryset: object) -> list[str]:
    """The kinds present in a picker's targets, for its kind filter."""
    values = getattr(queryset, "values_list", None)
    if values is None:
        return []
    return sorted({str(k) for k in values("kind", flat=True)})
