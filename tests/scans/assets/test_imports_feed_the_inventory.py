"""Imports feed the inventory through the same recording service as tool steps: the nmap samples
of the shared scanner outputs create their hosts (with reverse DNS, and the name scanned) and
services (with product and version), their findings point at those services, a Trivy report
creates its image, and re-importing without a port marks the service gone."""

from __future__ import annotations

from typing import Any

import pytest

from scans.models import Asset, AssetLink, Finding, ScanAsset
from tests.scanning import SCANNER_OUTPUTS

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/scans/import"


def _import(api: Any, tool: str, path: str, **fields: str) -> dict[str, Any]:
    with (SCANNER_OUTPUTS / path).open("rb") as report:
        answer = api.post(IMPORT_URL, {"tool": tool, "file": report, **fields}, format="multipart")
    assert answer.status_code == 201, answer.json()
    return dict(answer.json())


def test_importing_the_nmap_samples_creates_the_hosts_and_services(
    owner_api: Any, team: Any
) -> None:
    for sample in ("nmap_multiple_port.xml", "nmap_script_vulners.xml", "nmap_0port.xml"):
        _import(owner_api, "nmap", f"nmap/{sample}")

    hosts = dict(Asset.objects.filter(team=team, kind="ip").values_list("value", "attrs"))
    assert hosts == {
        "198.38.82.159": {"reverse_dns": ["mocha2005.mochahost.com"]},
        "192.168.0.1": {},
        "127.0.0.1": {"reverse_dns": ["localhost.localdomain"]},
    }
    name = Asset.objects.get(team=team, kind="domain", value="joaquinlp.me")
    ip = Asset.objects.get(team=team, kind="ip", value="198.38.82.159")
    assert AssetLink.objects.filter(source=name, target=ip, relation="resolves_to").exists()
    ports = sorted(  # type: ignore[type-var]
        Asset.objects.filter(team=team, kind="service", parent=name).values_list("port", flat=True)
    )
    assert ports == [21, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 2525, 3306]
    ssh = Asset.objects.get(team=team, kind="service", value="192.168.0.1:5022/tcp")
    assert ssh.parent is not None and ssh.parent.value == "192.168.0.1"
    assert (ssh.attrs["service"], ssh.attrs["product"], ssh.attrs["version"]) == (
        "ssh",
        "OpenSSH",
        "7.4",
    )
    assert ssh.attrs["cpe"] == ["cpe:/a:openbsd:openssh:7.4"]
    # Every finding of the imports points at the service it is about.
    vulners = Finding.objects.filter(team=team, scan__workflow_name="import: nmap", item=ssh.value)
    assert vulners.count() > 1 and set(vulners.values_list("asset_id", flat=True)) == {ssh.pk}
    assert not Finding.objects.filter(team=team, asset__isnull=True).exists()


def test_an_imported_trivy_report_records_its_image(owner_api: Any, team: Any) -> None:
    _import(
        owner_api, "trivy", "trivy/scheme_2_many_vulns.json", target="registry.example.com/app:1.4"
    )
    image = Asset.objects.get(team=team, kind="image")
    assert image.value == "registry.example.com/app:1.4"
    assert set(Finding.objects.filter(team=team).values_list("asset_id", flat=True)) == {image.pk}


def test_reimporting_without_a_port_marks_its_service_gone(
    owner_api: Any, team: Any, tmp_path: Any
) -> None:
    first = _import(owner_api, "nmap", "nmap/nmap_script_vulners.xml", target="192.168.0.1")
    text = (SCANNER_OUTPUTS / "nmap/nmap_script_vulners.xml").read_text()
    closed = text.replace('<state state="open"', '<state state="closed"')
    second = owner_api.post(
        IMPORT_URL,
        {"tool": "nmap", "file": _upload(tmp_path, closed), "target": "192.168.0.1"},
        format="multipart",
    ).json()
    assert second["previous_scan"] == first["scan_id"]
    ssh = Asset.objects.get(team=team, kind="service", value="192.168.0.1:5022/tcp")
    assert ssh.is_gone
    assert ScanAsset.objects.get(scan_id=second["scan_id"], asset=ssh).change == "gone"


def _upload(tmp_path: Any, text: str) -> Any:
    path = tmp_path / "nmap.xml"
    path.write_text(text)
    return path.open("rb")
