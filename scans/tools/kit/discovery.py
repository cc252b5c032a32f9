"""What the discovery tools' parsers share (masscan and naabu find ports; ffuf, gobuster and
dirsearch find paths; httpx and WhatWeb probe URLs): each thing found becomes an item (handed on
to later steps, and recorded in the inventory with the attrs docs/inventory.md lists) and an
`info` finding, so a scan diff shows a port or path that appeared or went away and an imported
report of them is not empty."""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.tools.kit.values import canonical_url, is_ip_literal
from targets.items import Item


def port_found(
    tool: str, host: str, port: Any, proto: Any = "tcp", **attrs: Any
) -> tuple[Item, FindingData]:
    """An open port: the service item and its `open-port` finding (located at the service)."""
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"not a {tool} report: {port!r} is not a port number")
    transport = str(proto or "tcp").lower()
    if transport not in ("tcp", "udp"):
        transport = "tcp"
    host = str(host).strip().strip("[]").lower()
    if not host:
        raise ValueError(f"not a {tool} report: an open port has no host")
    kept = {key: value for key, value in attrs.items() if value not in (None, "", [], {})}
    if not is_ip_literal(host) and kept.get("address") == host:
        kept.pop("address")
    item = Item.service(host, number, transport, **kept)
    named = f" ({kept['service']})" if kept.get("service") else ""
    finding = FindingData(
        tool=tool,
        severity="info",
        title=f"Open port {number}/{transport}{named}",
        rule_id="open-port",
        description=f"{item.value} accepts connections ({tool}).",
        location=item.value,
        item=item.value,
        evidence={key: value for key, value in kept.items() if isinstance(value, (str, int))},
        tags=["open-port"],
    )
    return item, finding


def url_found(
    tool: str, url: Any, *, rule_id: str, title: str, description: str = "", **attrs: Any
) -> tuple[Item, FindingData] | None:
    """A URL a tool found or probed: the url item and an `info` finding located at it (None when
    the value is not an http(s) URL)."""
    try:
        value = canonical_url(str(url or "").strip())
    except ValueError:
        return None
    kept = {key: val for key, val in attrs.items() if val not in (None, "", [], {})}
    item = Item("url", value, kept)
    finding = FindingData(
        tool=tool,
        severity="info",
        title=title,
        rule_id=rule_id,
        description=description or f"{tool} reported {value}.",
        location=value,
        item=value,
        evidence={key: val for key, val in kept.items() if isinstance(val, (str, int, list))},
        tags=["discovery"],
    )
    return item, finding


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
