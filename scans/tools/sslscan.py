"""sslscan: TLS protocol, cipher and certificate checks (https://github.com/rbsec/sslscan).

Runs in a container: `sslscan --no-colour [--show-certificate] --xml=/output/sslscan-N.xml
HOST:PORT` per TLS service (service items, and the host:port of https URL items). sslscan has no
`--`: the target is refused before it reaches the argv unless it parses as a host and port (never
anything starting with `-`).

Reads `--xml` output (sslscan 1.x and 2.x): `<document><ssltest host port>` with `<protocol>`,
`<cipher>`, `<heartbleed>`, `<renegotiation>`, `<compression>`, `<fallback>` and
`<certificate>` elements; a document without `<ssltest>` is refused (sslscan writes one per
target, with an `<error>` when it could not connect, which goes to the step log).

Findings, one per service and check (location `host:port/tcp`), severity by check:
- Heartbleed on any protocol version (`vulnerable="1"`): high, CVE-2014-0160;
- SSLv2 / SSLv3 enabled: high / medium; TLS 1.0 / 1.1 enabled: low (deprecated, RFC 8996);
- an accepted cipher sslscan rates `weak`, `null` or `anonymous`: medium; `medium`: low;
- insecure renegotiation: medium; TLS compression (CRIME, CVE-2012-4929): medium; no
  TLS_FALLBACK_SCSV: low;
- an expired certificate: medium; a self-signed one: low; an RSA key under 2048 bits: medium.
The service is recorded in the inventory as a TLS service.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.tools.kit import fields
from scans.tools.kit.arguments import tls_endpoints
from scans.tools.kit.detect import xml_root
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import ParsedReport, bulk_parser, load_xml, xml_text
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from targets.items import Item

TOOL = "sslscan"
ACCEPTS = {"service", "url"}
EMITS: set[str] = set()
_PROTOCOLS = {
    ("ssl", "2"): "high",
    ("ssl", "3"): "medium",
    ("tls", "1.0"): "low",
    ("tls", "1.1"): "low",
}
_WEAK = {"weak": "medium", "null": "medium", "anonymous": "medium", "medium": "low"}


def _is_sslscan_xml(data: bytes) -> bool:
    return xml_root(data) == "document" and b"<ssltest" in data[:65536]


NODE = Tool(
    type=TOOL,
    label="sslscan",
    group="Probe",
    icon="lock",
    help="TLS protocols, ciphers and certificates with sslscan, in a sandboxed container.",
    order=62,
    # rbsec/sslscan publishes no image of its own: a community build; pin it by digest or point
    # TOOL_IMAGE_SSLSCAN at your own.
    image="shamelesscookie/sslscan:2.0.15",
    network="bridge",
    sarif_uri="https://github.com/rbsec/sslscan",
    test_image=TestImage(
        name="outpost-test/sslscan:1",
        entrypoint=("/usr/bin/sslscan",),
        binaries=("sslscan",),
        files=("/usr/lib/ssl/openssl.cnf", "/etc/ssl/openssl.cnf", "/etc/nsswitch.conf"),
    ),
    formats=(
        ReportFormat(
            name="sslscan-xml",
            label="sslscan XML (--xml)",
            detect=_is_sslscan_xml,
            command="sslscan --xml=sslscan.xml example.com:443",
        ),
    ),
)


CONFIG_FIELDS: list[ConfigField] = [
    fields.boolean("show_certificate", True, "Read the certificate too (expiry, self-signed, key size)"),
    timeout_field(),
]  # fmt: skip


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One sslscan per TLS endpoint (service, or an https URL's host and port)."""
    options = validate_config(config, CONFIG_FIELDS)
    targets, refused = tls_endpoints(items)
    certificate = ["--show-certificate"] if options["show_certificate"] else []

    def argv(target: str, output: str) -> list[str]:
        return ["sslscan", "--no-colour", *certificate, f"--xml={output}", target]

    return numbered_plans(TOOL, own_subjects(targets), "xml", argv), refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from an sslscan XML report."""
    root = load_xml(data, TOOL, "document")
    tests = root.findall("ssltest")
    if not tests:
        raise ValueError("not an sslscan report: it has no <ssltest> element")
    report = ParsedReport()
    for test in tests:
        _test(report, test)
    for error in root.iter("error"):
        report.notes.append(f"sslscan: {xml_text(error)[:300]}")
    return report


def _test(report: ParsedReport, test: Element) -> None:
    host = (test.get("host") or "").strip().lower()
    try:
        port = int(test.get("port") or "443")
    except ValueError:
        port = 443
    if not host:
        raise ValueError("not an sslscan report: an <ssltest> has no host")
    service = Item.service(host, port, "tcp", tls=True)
    report.assets.append(service)

    def add(rule: str, severity: str, title: str, detail: str, **evidence: object) -> None:
        finding = FindingData(
            tool=TOOL, severity=severity, title=title, rule_id=rule,
            description=f"sslscan on {service.value}: {detail}", location=service.value,
            item=service.value, evidence={k: v for k, v in evidence.items() if v != ""},
            tags=["tls"],
        )  # fmt: skip
        if rule == "heartbleed":
            finding.vuln_ids = ["CVE-2014-0160"]
        if rule == "compression":
            finding.vuln_ids = ["CVE-2012-4929"]
        report.findings.append(finding)

    bleeding = [
        h.get("sslversion", "") for h in test.iter("heartbleed") if h.get("vulnerable") == "1"
    ]
    if bleeding:
        add("heartbleed", "high", "Heartbleed", f"vulnerable to Heartbleed on {', '.join(bleeding)}.",
            protocols=", ".join(bleeding))  # fmt: skip
    for protocol in test.iter("protocol"):
        key = ((protocol.get("type") or "").lower(), protocol.get("version") or "")
        if protocol.get("enabled") == "1" and key in _PROTOCOLS:
            name = f"{key[0].upper()}v{key[1]}"
            add(
                f"protocol-{name.lower()}",
                _PROTOCOLS[key],
                f"{name} enabled",
                f"{name} is offered.",
            )
    for cipher in test.iter("cipher"):
        strength = (cipher.get("strength") or "").lower()
        if cipher.get("status") in ("accepted", "preferred") and strength in _WEAK:
            name, version = cipher.get("cipher", ""), cipher.get("sslversion", "")
            add(f"weak-cipher-{name}", _WEAK[strength], f"Weak cipher {name} ({version})",
                f"accepts {name} on {version}, rated {strength}.", cipher=name,
                protocol=version, bits=cipher.get("bits", ""), strength=strength)  # fmt: skip
    renegotiation = test.find("renegotiation")
    if (
        renegotiation is not None
        and renegotiation.get("supported") == "1"
        and renegotiation.get("secure") != "1"
    ):
        add(
            "insecure-renegotiation",
            "medium",
            "Insecure renegotiation",
            "allows insecure client-initiated renegotiation.",
        )
    compression = test.find("compression")
    if compression is not None and compression.get("supported") == "1":
        add("compression", "medium", "TLS compression (CRIME)", "supports TLS compression.")
    fallback = test.find("fallback")
    if fallback is not None and fallback.get("supported") == "0":
        add(
            "no-fallback-scsv", "low", "No TLS_FALLBACK_SCSV", "does not support TLS_FALLBACK_SCSV."
        )
    # sslscan 1.x: <certificate> in the <ssltest>; 2.x: <certificates> holding a "full" one (the
    # PEM) and a "short" one (the parsed fields read here).
    found = [test.find(path) for path in ("certificate", "certificates/certificate[@type='short']")]
    _certificate(next((c for c in found if c is not None), None), add)


def _certificate(certificate: Element | None, add: object) -> None:
    if certificate is None or not callable(add):
        return
    subject = xml_text(certificate, "subject", 300)
    if xml_text(certificate, "expired") == "true":
        add("certificate-expired", "medium", "Expired certificate",
            f"the certificate for {subject} expired on {xml_text(certificate, 'not-valid-after')}.",
            subject=subject, not_after=xml_text(certificate, "not-valid-after"))  # fmt: skip
    if xml_text(certificate, "self-signed") == "true":
        add("certificate-self-signed", "low", "Self-signed certificate",
            f"the certificate for {subject} is self-signed.", subject=subject)  # fmt: skip
    key = certificate.find("pk")
    if key is not None and (key.get("type") or "").upper() == "RSA":
        try:
            bits = int(key.get("bits") or "0")
        except ValueError:
            bits = 0
        if 0 < bits < 2048:
            add("weak-key", "medium", f"RSA key of {bits} bits", f"the certificate's RSA key has {bits} bits.",
                bits=bits)  # fmt: skip


commands, run = planned_runner(TOOL, _plans, parse)
