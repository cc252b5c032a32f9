"""nmap -oX reports parse into service items, open-port findings and vulners CVEs that match the
raw XML; hostile XML (entity expansion, external entities) is refused."""

from __future__ import annotations

import xml.dom.minidom
from collections import Counter

import pytest

from scans.tools import nmap
from tests.scans.tools.conftest import sample

SAMPLES = ["nmap/nmap_0port.xml", "nmap/nmap_multiple_port.xml", "nmap/nmap_script_vulners.xml"]


def cvss_band(score: float) -> str:
    return (
        "critical"
        if score >= 9
        else "high"
        if score >= 7
        else "medium"
        if score >= 4
        else "low"
        if score > 0
        else "info"
    )


def raw_expectation(data: bytes) -> Counter[str]:
    """Severities the report should give, read with the standard library's DOM (these samples
    are trusted files): one info per open port, one per vulners entry by its CVSS."""
    dom = xml.dom.minidom.parseString(data)  # noqa: S318 (a trusted sample, a different parser)
    expected: Counter[str] = Counter()
    for port in dom.getElementsByTagName("port"):
        if port.getElementsByTagName("state")[0].getAttribute("state") == "open":
            expected["info"] += 1
    for elem in dom.getElementsByTagName("elem"):
        if elem.getAttribute("key") == "cvss":
            expected[cvss_band(float(elem.firstChild.nodeValue or ""))] += 1  # type: ignore[union-attr]
    return expected


@pytest.mark.smoke
@pytest.mark.parametrize("name", SAMPLES)
def test_it_reads_every_open_port_and_vulners_entry_with_its_severity(name: str) -> None:
    data = sample(name)
    expected = raw_expectation(data)

    parsed = nmap.parse(data)

    assert len(parsed.findings) == sum(expected.values())
    assert Counter(f.severity for f in parsed.findings) == expected
    assert len(parsed.items) == expected["info"]


def test_open_ports_become_service_items_named_after_the_host_nmap_was_given() -> None:
    parsed = nmap.parse(sample("nmap/nmap_multiple_port.xml"))

    values = [item.value for item in parsed.items]
    assert values[:3] == ["joaquinlp.me:21/tcp", "joaquinlp.me:25/tcp", "joaquinlp.me:53/tcp"]
    http = next(item for item in parsed.items if item.attrs["port"] == 80)
    assert http.attrs["service"] == "http"
    assert http.attrs["address"] == "198.38.82.159"
    finding = next(f for f in parsed.findings if f.location == "joaquinlp.me:80/tcp")
    assert (finding.rule_id, finding.severity, finding.component) == ("open-port", "info", "")


def test_vulners_output_becomes_cve_findings_on_the_service() -> None:
    parsed = nmap.parse(sample("nmap/nmap_script_vulners.xml"))

    [ssh] = parsed.items
    assert (ssh.value, ssh.attrs["product"], ssh.attrs["version"]) == (
        "192.168.0.1:5022/tcp",
        "OpenSSH",
        "7.4",
    )
    cves = {f.rule_id: f for f in parsed.findings if f.rule_id.startswith("CVE-")}
    assert set(cves) == {"CVE-2018-15919", "CVE-2017-15906"}
    cve = cves["CVE-2018-15919"]
    assert (cve.severity, cve.component, cve.version) == ("medium", "OpenSSH", "7.4")
    assert cve.location == "192.168.0.1:5022/tcp"
    assert cve.references == ["https://vulners.com/cve/CVE-2018-15919"]


def test_vulners_text_output_is_read_when_the_script_wrote_no_tables() -> None:
    data = sample("nmap/nmap_script_vulners.xml")
    start, end = data.index(b"<table key="), data.index(b"</script>")
    text_only = data[:start] + data[end:]

    parsed = nmap.parse(text_only)

    assert {f.rule_id for f in parsed.findings} == {"open-port", "CVE-2018-15919", "CVE-2017-15906"}


def test_a_scan_where_every_host_was_down_says_so() -> None:
    report = (
        b'<?xml version="1.0"?><nmaprun scanner="nmap"><runstats><finished exit="success"/>'
        b'<hosts up="0" down="1" total="1"/></runstats></nmaprun>'
    )

    parsed = nmap.parse(report)

    assert parsed.findings == [] and parsed.items == []
    assert parsed.notes == ["nmap found no host up (1 down)"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE nmaprun [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<nmaprun><host><hostnames><hostname name="&lol3;" type="user"/></hostnames></host></nmaprun>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE nmaprun [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<nmaprun><host><hostnames><hostname name="&secret;" type="user"/></hostnames></host></nmaprun>"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"]
)
def test_it_refuses_xml_with_entity_declarations(data: bytes) -> None:
    with pytest.raises(ValueError, match="declares XML entities"):
        nmap.parse(data)


@pytest.mark.parametrize("data", [b"", b"<nmaprun>", b"<html></html>", b"not xml"])
def test_it_refuses_what_is_not_nmap_xml(data: bytes) -> None:
    with pytest.raises(ValueError):
        nmap.parse(data)
