"""The report parsers of masscan, ffuf, gobuster, WhatWeb, testssl.sh and sslscan read the real
reports: counts and severities computed here from the raw files, the items the inventory gets,
and the fields each finding keeps."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pytest

from scans.tools import ffuf, gobuster, masscan, sslscan, testssl, whatweb
from tests.scans.tools.conftest import sample


@pytest.mark.parametrize(
    "name", ["masscan/masscan_many_vuln.json", "masscan/masscan_one_vuln.json"]
)
def test_masscan_json_gives_a_service_and_an_open_port_per_open_port(name: str) -> None:
    data = sample(name)
    expected = {
        f"{record['ip']}:{port['port']}/{port['proto']}"
        for record in json.loads(data)
        for port in record["ports"]
        if port["status"] == "open"
    }

    parsed = masscan.parse(data)

    assert {item.value for item in parsed.items} == expected
    assert {f.location for f in parsed.findings} == expected
    assert {f.rule_id for f in parsed.findings} == {"open-port"}
    assert {f.severity for f in parsed.findings} == {"info"}


def test_masscan_ndjson_and_list_outputs_read_the_same_ports() -> None:
    ndjson = (
        b'{"ip":"10.0.0.5","timestamp":"1","port":443,"proto":"tcp","rec_type":"status",'
        b'"data":{"status":"open","reason":"syn-ack","ttl":64}}\n'
        b'{"ip":"10.0.0.5","timestamp":"1","port":22,"proto":"tcp","rec_type":"status",'
        b'"data":{"status":"closed"}}\n'
    )
    listing = b"#masscan\nopen tcp 443 10.0.0.5 1700000000\n# end\n"

    assert masscan._is_masscan_ndjson(ndjson) and masscan._is_masscan_list(listing)
    assert [i.value for i in masscan.parse(ndjson).items] == ["10.0.0.5:443/tcp"]
    assert [i.value for i in masscan.parse(listing).items] == ["10.0.0.5:443/tcp"]


def test_masscan_json_with_its_trailing_comma_is_read() -> None:
    data = b'[\n{"ip": "10.0.0.7", "ports": [{"port": 80, "proto": "tcp", "status": "open"}]},\n]\n'

    assert masscan._is_masscan_json(data)
    assert [i.value for i in masscan.parse(data).items] == ["10.0.0.7:80/tcp"]


@pytest.mark.parametrize("name", ["ffuf/ffuf_one_vuln.json", "ffuf/ffuf_no_vuln.json"])
def test_ffuf_gives_a_url_with_its_response_per_result(name: str) -> None:
    data = sample(name)
    results = json.loads(data)["results"]

    parsed = ffuf.parse(data)

    assert len(parsed.findings) == len(results) == len(parsed.items)
    for result, item in zip(results, parsed.items, strict=True):
        assert item.value == result["url"]
        assert item.attrs["status"] == result["status"]
        assert item.attrs["content_length"] == result["length"]
        assert item.attrs["redirect_to"] == result["redirectlocation"]


def test_gobuster_lines_become_urls_under_the_given_base() -> None:
    data = sample("gobuster/gobuster_one_vuln.txt")
    lines = [line for line in data.decode().splitlines() if "(Status:" in line]

    parsed = gobuster.parse(data, subject="http://wave3target/")

    assert len(parsed.findings) == len(lines) == 1
    [item] = parsed.items
    assert item.value == "http://wave3target/admin"
    assert item.attrs == {
        "status": 301,
        "content_length": 169,
        "redirect_to": "http://wave3target/admin/",
    }


def test_gobuster_without_a_base_takes_the_host_from_the_redirect_or_keeps_the_path() -> None:
    parsed = gobuster.parse(sample("gobuster/gobuster_one_vuln.txt"))
    assert [i.value for i in parsed.items] == ["http://wave3target/admin"]

    bare = gobuster.parse(b"/backup (Status: 403)\n")
    assert bare.items == [] and [f.location for f in bare.findings] == ["/backup"]


def test_gobuster_refuses_a_line_that_is_not_a_result() -> None:
    with pytest.raises(ValueError, match="line 2 is not a path"):
        gobuster.parse(b"admin (Status: 301) [Size: 1]\nsomething else\n")


@pytest.mark.parametrize(
    "name", ["whatweb/whatweb_many_vuln.json", "whatweb/whatweb_one_vuln.json"]
)
def test_whatweb_gives_each_target_its_technologies(name: str) -> None:
    data = sample(name)
    targets = json.loads(data)

    parsed = whatweb.parse(data)

    assert [i.value for i in parsed.items] == [t["target"] for t in targets]
    first = parsed.items[0]
    names = {tech["name"] for tech in first.attrs["technologies"]}
    assert "nginx" in names and "Country" not in names and "IP" not in names
    nginx = next(t for t in first.attrs["technologies"] if t["name"] == "nginx")
    assert nginx["version"] == targets[0]["plugins"]["nginx"]["version"][0]
    assert first.attrs["server"] == targets[0]["plugins"]["HTTPServer"]["string"][0]
    assert first.attrs["title"] == targets[0]["plugins"]["Title"]["string"][0]
    assert len(parsed.findings) == len(targets)


def test_whatweb_splits_the_meta_generator_into_name_and_version() -> None:
    parsed = whatweb.parse(sample("whatweb/whatweb_one_vuln.json"))

    assert {"name": "generic-app", "version": "1.4.2"} in parsed.items[0].attrs["technologies"]


TESTSSL = [
    "testssl/defectdojo_many_vuln.csv",
    "testssl/defectdojo_one_vuln.csv",
    "testssl/demo.csv",
    "testssl/many_cves.csv",
    "testssl/overall_medium.csv",
    "testssl/references.csv",
]


@pytest.mark.parametrize("name", TESTSSL)
def test_testssl_rows_of_low_and_worse_are_findings_one_per_check_and_name(name: str) -> None:
    data = sample(name)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    worst: dict[tuple[str, str, str], str] = {}
    for row in rows:
        if row["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
            key = (row["id"], row["fqdn/ip"].split("/")[0], row["port"])
            worst.setdefault(key, row["severity"].lower())

    parsed = testssl.parse(data)

    assert len(parsed.findings) == len(worst)
    assert Counter(f.severity for f in parsed.findings) == Counter(worst.values())
    notes = [row for row in rows if row["severity"] in ("WARN", "FATAL")]
    assert len(parsed.notes) == len(notes)


def test_testssl_keeps_cve_and_cwe_ids_and_the_service() -> None:
    [finding] = testssl.parse(sample("testssl/many_cves.csv")).findings

    assert finding.rule_id == "DROWN" and finding.severity == "high"
    assert finding.vuln_ids == ["CVE-2016-0800", "CVE-2016-0703"]
    assert finding.cwe_ids == ["CWE-310"]
    assert finding.location == "www.defectdojo.org:443/tcp"
    assert finding.evidence["address"] == "185.199.109.153"


def test_testssl_refuses_a_run_that_could_not_reach_the_target() -> None:
    with pytest.raises(ValueError, match=r"could not test the target.*Can't connect"):
        testssl.parse(sample("testssl/failed_target.csv"))


@pytest.mark.parametrize("name", ["sslscan/sslscan_many_vuln.xml", "sslscan/sslscan_one_vuln.xml"])
def test_sslscan_reports_heartbleed_weak_ciphers_and_the_expired_certificate(name: str) -> None:
    data = sample(name)
    body = data.decode()
    weak = [
        m
        for m in re.finditer(r'<cipher status="(\w[\w ]*)"[^>]*strength="(\w+)"', body)
        if m.group(1) in ("accepted", "preferred")
        and m.group(2) in ("weak", "null", "anonymous", "medium")
    ]
    expected = len(weak) + ('vulnerable="1"' in body) + ("<expired>true</expired>" in body)

    parsed = sslscan.parse(data)

    assert len(parsed.findings) == expected == 2
    heartbleed = next(f for f in parsed.findings if f.rule_id == "heartbleed")
    assert heartbleed.severity == "high" and heartbleed.vuln_ids == ["CVE-2014-0160"]
    assert heartbleed.location == "www.target.com:443/tcp"
    assert [a.value for a in parsed.assets] == ["www.target.com:443/tcp"]


def test_sslscan_refuses_xml_entities() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><document><ssltest host="x" port="1">&a;</ssltest></document>'

    with pytest.raises(ValueError, match="entities"):
        sslscan.parse(bomb)
