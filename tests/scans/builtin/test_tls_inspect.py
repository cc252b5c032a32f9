"""The built-in tls_inspect against TLS servers on loopback with certificates made in the test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from scans.tools import tls_inspect
from scans.tools.kit.certificates import certificate_info, hostname_matches
from targets.items import Item
from tests.scans.builtin.conftest import TlsServer, make_ca, make_certificate, server_tls_context
from tests.scans.conftest import StepContextFactory

NOW = dt.datetime.now(dt.UTC)


def rules(result: tls_inspect.StepResult) -> dict[str, str]:
    return {f.rule_id: f.severity for f in result.findings}


def test_a_valid_ca_issued_certificate_for_the_address_has_no_findings(
    step_context: StepContextFactory, tls_server: Callable[..., TlsServer], tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    certificate = make_certificate(tmp_path, ip_addresses=("127.0.0.1",), issuer=ca)
    server = tls_server(server_tls_context(certificate))

    result = tls_inspect.run(step_context(items=[Item.service("127.0.0.1", server.port)]))

    assert result.error == ""
    assert result.findings == []
    tls = result.items[0].attrs["tls"]
    assert result.items[0].value == f"127.0.0.1:{server.port}/tcp"
    assert tls["protocol"] in {"TLSv1.2", "TLSv1.3"}
    assert tls["cipher"]
    assert tls["weak_protocols_accepted"] == []
    cert = tls["certificate"]
    assert cert["issuer"] == "CN=Outpost Test CA"
    assert cert["ip_addresses"] == ["127.0.0.1"]
    assert cert["key_type"] == "RSA" and cert["key_bits"] == 2048
    assert cert["signature_algorithm"] == "sha256WithRSAEncryption"
    assert cert["serial"] == format(certificate.cert.serial_number, "x")
    assert server.wait_for_handshakes(1) == 1  # TLS 1.0 and 1.1 attempts were refused by the server


@pytest.mark.smoke
def test_an_expired_self_signed_certificate_is_reported(
    step_context: StepContextFactory, tls_server: Callable[..., TlsServer], tmp_path: Path
) -> None:
    certificate = make_certificate(
        tmp_path,
        ip_addresses=("127.0.0.1",),
        valid_from=NOW - dt.timedelta(days=400),
        valid_until=NOW - dt.timedelta(days=2),
    )
    server = tls_server(server_tls_context(certificate))

    result = tls_inspect.run(step_context(items=[Item.service("127.0.0.1", server.port)]))

    assert rules(result) == {"tls-cert-expired": "high", "tls-cert-self-signed": "medium"}
    expired = next(f for f in result.findings if f.rule_id == "tls-cert-expired")
    assert expired.location == f"127.0.0.1:{server.port}"
    assert expired.item == f"127.0.0.1:{server.port}/tcp"
    assert expired.tool == "tls_inspect"


def test_a_certificate_close_to_expiry_is_reported(
    step_context: StepContextFactory, tls_server: Callable[..., TlsServer], tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    certificate = make_certificate(
        tmp_path, ip_addresses=("::1",), valid_until=NOW + dt.timedelta(days=10), issuer=ca
    )
    server = tls_server(server_tls_context(certificate), host="::1")

    soon = tls_inspect.run(step_context(items=[Item.service("::1", server.port)]))
    relaxed = tls_inspect.run(
        step_context(config={"expiry_warning_days": 5}, items=[Item.service("::1", server.port)])
    )

    assert rules(soon) == {"tls-cert-expiring": "medium"}
    assert soon.findings[0].location == f"[::1]:{server.port}"
    assert rules(relaxed) == {}


def test_a_certificate_for_another_name_is_a_hostname_mismatch(
    step_context: StepContextFactory, tls_server: Callable[..., TlsServer], tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    certificate = make_certificate(tmp_path, dns_names=("www.outpost.test",), issuer=ca)
    server = tls_server(server_tls_context(certificate))

    result = tls_inspect.run(step_context(items=[Item("url", f"https://127.0.0.1:{server.port}/")]))

    assert rules(result) == {"tls-hostname-mismatch": "medium"}
    assert "is for www.outpost.test, not 127.0.0.1" in result.findings[0].description


def test_a_server_that_still_speaks_tls_1_0_and_has_a_weak_key_is_reported(
    step_context: StepContextFactory, tls_server: Callable[..., TlsServer], tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    certificate = make_certificate(tmp_path, ip_addresses=("127.0.0.1",), key_bits=1024, issuer=ca)
    context = server_tls_context(certificate, minimum="TLSv1", maximum="TLSv1_2")
    server = tls_server(context)

    result = tls_inspect.run(step_context(items=[Item.service("127.0.0.1", server.port)]))

    assert rules(result) == {
        "tls-weak-key": "medium",
        "tls-weak-protocol-tlsv1": "medium",
        "tls-weak-protocol-tlsv1.1": "medium",
    }
    assert result.items[0].attrs["tls"]["weak_protocols_accepted"] == ["TLSv1", "TLSv1.1"]


def test_weak_protocol_probes_can_be_turned_off(
    step_context: StepContextFactory, tls_server: Callable[..., TlsServer], tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    certificate = make_certificate(tmp_path, ip_addresses=("127.0.0.1",), issuer=ca)
    server = tls_server(server_tls_context(certificate, minimum="TLSv1"))

    result = tls_inspect.run(
        step_context(
            config={"check_weak_protocols": False}, items=[Item.service("127.0.0.1", server.port)]
        )
    )

    assert rules(result) == {}
    assert server.wait_for_handshakes(1) == 1


def test_a_service_that_does_not_speak_tls_is_a_result_not_a_failed_step(
    step_context: StepContextFactory, web_server: Callable[..., object]
) -> None:
    server = web_server(routes={})

    result = tls_inspect.run(step_context(items=[Item.service("127.0.0.1", server.port)]))  # type: ignore[attr-defined]

    assert result.items == [] and result.findings == []
    assert result.runs[0].exit_code == 1
    assert result.error == ""


def test_it_describes_one_command_per_endpoint() -> None:
    items = [
        Item.service("127.0.0.1", 8443),
        Item("url", "https://127.0.0.1:8443/login"),
        Item("url", "http://127.0.0.1:8080/"),
        Item("url", "https://[::1]/"),
    ]

    planned = tls_inspect.commands({"expiry_warning_days": 14}, items)

    assert [c.argv for c in planned] == [
        [
            "builtin:tls_inspect",
            "--timeout-ms",
            "5000",
            "--expiry-days",
            "14",
            "--weak-protocols",
            "--",
            "127.0.0.1:8443",
        ],
        [
            "builtin:tls_inspect",
            "--timeout-ms",
            "5000",
            "--expiry-days",
            "14",
            "--weak-protocols",
            "--",
            "[::1]:443",
        ],
    ]


def test_host_names_match_sans_with_one_wildcard_label(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    certificate = make_certificate(
        tmp_path, dns_names=("*.outpost.test", "outpost.test"), ip_addresses=("::1",)
    )
    info = certificate_info(certificate.cert.public_bytes(serialization.Encoding.DER))

    assert hostname_matches("www.outpost.test", info)
    assert hostname_matches("OUTPOST.test.", info)
    assert hostname_matches("::1", info)
    assert not hostname_matches("a.b.outpost.test", info)
    assert not hostname_matches("evil-outpost.test", info)
    assert not hostname_matches("127.0.0.1", info)
