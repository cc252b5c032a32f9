"""Today's inventory rows (kinds host, service, url) become the new model's: a host is a domain or
an IP, a service gets its port and its host as parent, a URL its port, status code and service.
Hosts and services that only a child names are created, first and last seen as the child."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from django.db import migrations
from django.db.models import F

SERVICE_RE = re.compile(r"^(\[[^\]]+\]|[^:/\[\]]+):([0-9]{1,5})/([a-z]+)$")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _host_kind(value: str) -> str:
    return "ip" if _is_ip(value) else "domain"


def _service_of_url(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    host = parts.hostname or ""
    if not host or not port:
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}/tcp", host, port


def forwards(apps: Any, schema_editor: Any) -> None:
    Asset = apps.get_model("scans", "Asset")
    Asset.objects.filter(kind="host").update(kind="domain")
    for asset in Asset.objects.filter(kind="domain").iterator():
        if _is_ip(asset.value):
            asset.kind = "ip"
            asset.value = str(ipaddress.ip_address(asset.value.strip("[]")))
            if not Asset.objects.filter(team_id=asset.team_id, kind="ip", value=asset.value):
                asset.save(update_fields=["kind", "value"])
            else:
                asset.delete()
    Asset.objects.filter(last_scan__isnull=False).update(first_scan=F("last_scan"))

    def ensure(template: Any, kind: str, value: str, **fields: Any) -> Any:
        found, _ = Asset.objects.get_or_create(
            team_id=template.team_id, kind=kind, value=value,
            defaults={"first_seen_at": template.first_seen_at, "last_seen_at": template.last_seen_at,
                      "first_scan_id": template.last_scan_id, "last_scan_id": template.last_scan_id,
                      **fields},
        )  # fmt: skip
        return found

    for service in Asset.objects.filter(kind="service").iterator():
        match = SERVICE_RE.match(service.value)
        if not match:
            continue
        host = match.group(1).strip("[]")
        parent = ensure(service, _host_kind(host), host.lower())
        service.port = int(match.group(2))
        service.parent_id = parent.pk
        service.save(update_fields=["port", "parent"])
    for url in Asset.objects.filter(kind="url").iterator():
        found = _service_of_url(url.value)
        if found is None:
            continue
        value, host, port = found
        host_asset = ensure(url, _host_kind(host), host.lower())
        service = ensure(url, "service", value, port=port, parent_id=host_asset.pk)
        status = (url.attrs or {}).get("status")
        url.port = port
        url.parent_id = service.pk
        url.status_code = status if isinstance(status, int) and 100 <= status <= 999 else None
        url.save(update_fields=["port", "parent", "status_code"])


class Migration(migrations.Migration):
    dependencies = [("scans", "0010_asset_inventory")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
