"""SSLyze: TLS configuration scans (https://github.com/nabla-c0d3/sslyze). Imported only.

Reads the JSON output of SSLyze 3 and 4 (`server_scan_results[].scan_commands_results`), of
SSLyze 5 and later (`server_scan_results[].scan_result.<command>.result`, with
`server_location`), and the XML of SSLyze 1 and 2 (`<document SSLyzeVersion>` →
`<target host ip port>`). A target SSLyze could not connect to goes to the step log.

Findings, one per service and check (location `host:port/tcp`), like sslscan's:
SSLv2 / SSLv3 accepted (high / medium), TLS 1.0 / 1.1 accepted (low), accepted cipher suites
that are weak (NULL, anonymous, EXPORT, RC4, DES, 3DES, MD5: medium), Heartbleed
(CVE-2014-0160) and the OpenSSL CCS injection (CVE-2014-0224) (high), ROBOT (high), client-
initiated renegotiation (a DoS vector) or no secure renegotiation (medium), TLS compression
(CRIME, medium), no TLS_FALLBACK_SCSV (low), a certificate that does not match the host name or
that no trust store validates (medium). Each service is recorded in the inventory as TLS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.tools.kit.detect import has_keys, json_document, xml_root
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    load_json,
    load_xml,
)
from scans.tools.kit.tool import ReportFormat, Tool
from targets.items import Item

TOOL = "sslyze"
PROTOCOLS = {
    "ssl_2_0": ("SSLv2", "high"), "ssl_3_0": ("SSLv3", "medium"),
    "tls_1_0": ("TLS 1.0", "low"), "tls_1_1": ("TLS 1.1", "low"),
    "tls_1_2": ("TLS 1.2", ""), "tls_1_3": ("TLS 1.3", ""),
}  # fmt: skip
XML_PROTOCOLS = {"sslv2": "ssl_2_0", "sslv3": "ssl_3_0", "tlsv1": "tls_1_0", "tlsv1_1": "tls_1_1",
                 "tlsv1_2": "tls_1_2", "tlsv1_3": "tls_1_3"}  # fmt: skip
_WEAK = re.compile(
    r"NULL|anon|_DH_anon|EXPORT|RC4|_DES_|DES_CBC|DES-CBC|3DES|_MD5|-MD5", re.IGNORECASE
)


@dataclass
class Target:
    host: str
    port: int
    accepted: dict[str, list[str]] = field(default_factory=dict)  # protocol -> cipher names
    checks: dict[str, bool] = field(default_factory=dict)  # rule -> failed


def _is_sslyze_json(data: bytes) -> bool:
    document = json_document(data)
    return has_keys(document, "server_scan_results", "sslyze_version") or has_keys(
        document, "server_scan_results", "sslyze_url"
    )


def _is_sslyze_xml(data: bytes) -> bool:
    return xml_root(data) == "document" and b"SSLyzeVersion" in data[:2048]


NODE = Tool(
    type=TOOL,
    label="SSLyze",
    group="Probe",
    icon="lock",
    help="TLS weaknesses from SSLyze reports (JSON, XML).",
    order=64,
    imports_only=True,
    sarif_uri="https://github.com/nabla-c0d3/sslyze",
    formats=(
        ReportFormat(
            name="sslyze-json",
            label="SSLyze JSON (--json_out)",
            detect=_is_sslyze_json,
            command="sslyze --json_out=sslyze.json example.com:443",
        ),
        ReportFormat(
            name="sslyze-xml",
            label="SSLyze XML (1.x, 2.x --xml_out)",
            detect=_is_sslyze_xml,
            command="sslyze --regular --xml_out=sslyze.xml example.com:443",
            parse=lambda data, subject="": parse_xml(data, subject=subject),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from SSLyze's JSON output (3.x to 6.x)."""
    document = as_dict(load_json(data, "SSLyze"))
    report = ParsedReport()
    targets = []
    for result in as_list(document.get("server_scan_results")):
        result = as_dict(result)
        location = as_dict(result.get("server_location")) or as_dict(
            as_dict(result.get("server_info")).get("server_location")
        )
        host = str(location.get("hostname") or location.get("ip_address") or "")
        if result.get("connectivity_status") == "ERROR":
            report.notes.append(
                f"SSLyze could not connect to {host}: {result.get('connectivity_error_trace') or ''}"[
                    :300
                ]
            )
            continue
        commands = as_dict(result.get("scan_result")) or as_dict(
            result.get("scan_commands_results")
        )
        targets.append(_json_target(host, int(location.get("port") or 443), commands))
    for error in as_list(document.get("server_connectivity_errors")):
        report.notes.append(
            f"SSLyze could not connect: {as_dict(error).get('error_message') or error}"[:300]
        )
    return _report(report, targets)


def _result(commands: dict[str, Any], name: str) -> dict[str, Any]:
    entry = as_dict(commands.get(name))
    return as_dict(entry.get("result")) if "status" in entry or "result" in entry else entry


def _json_target(host: str, port: int, commands: dict[str, Any]) -> Target:
    target = Target(host.lower(), port)
    for key in PROTOCOLS:
        suites = _result(commands, f"{key}_cipher_suites")
        accepted = as_list(suites.get("accepted_cipher_suites"))
        names = [str(as_dict(as_dict(c).get("cipher_suite")).get("name") or "") for c in accepted]
        if not names and suites.get("is_tls_version_supported") is True:
            names = ["(no cipher suite named)"]  # SSLyze 5+ says the version is supported
        target.accepted[key] = names
    heartbleed = _result(commands, "heartbleed")
    target.checks["heartbleed"] = heartbleed.get("is_vulnerable_to_heartbleed") is True
    target.checks["ccs-injection"] = (
        _result(commands, "openssl_ccs_injection").get("is_vulnerable_to_ccs_injection") is True
    )
    robot = str(
        _result(commands, "robot").get("robot_result")
        or _result(commands, "robot").get("robot_result_enum")
        or ""
    )
    target.checks["robot"] = robot.startswith("VULNERABLE")
    reneg = _result(commands, "session_renegotiation")
    target.checks["client-renegotiation"] = (
        reneg.get("is_vulnerable_to_client_renegotiation_dos")
        or reneg.get("accepts_client_renegotiation")
    ) is True
    target.checks["insecure-renegotiation"] = reneg.get("supports_secure_renegotiation") is False
    target.checks["compression"] = (
        _result(commands, "tls_compression").get("supports_compression") is True
    )
    target.checks["no-fallback-scsv"] = (
        _result(commands, "tls_fallback_scsv").get("supports_fallback_scsv") is False
    )
    deployments = as_list(_result(commands, "certificate_info").get("certificate_deployments"))
    for deployment in deployments:
        deployment = as_dict(deployment)
        if deployment.get("leaf_certificate_subject_matches_hostname") is False:
            target.checks["certificate-hostname"] = True
        validations = [as_dict(v) for v in as_list(deployment.get("path_validation_results"))]
        if validations and not any(
            v.get("was_validation_successful") or v.get("verified_certificate_chain")
            for v in validations
        ):
            target.checks["certificate-untrusted"] = True
    return target


@bulk_parser
def parse_xml(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from SSLyze 1.x/2.x XML."""
    root = load_xml(data, "SSLyze", "document")
    report = ParsedReport()
    targets = []
    for element in root.iter("target"):
        targets.append(_xml_target(element))
    for invalid in root.iter("invalidTarget"):
        report.notes.append(
            f"SSLyze could not connect to {invalid.text or ''}: {invalid.get('error') or ''}"[:300]
        )
    return _report(report, targets)


def _attr(element: Element, path: str, name: str) -> str:
    found = element.find(path)
    return (found.get(name) or "") if found is not None else ""


def _xml_target(element: Element) -> Target:
    try:
        port = int(element.get("port") or "443")
    except ValueError:
        port = 443
    target = Target((element.get("host") or element.get("ip") or "").lower(), port)
    for tag, key in XML_PROTOCOLS.items():
        block = element.find(tag)
        if block is not None:
            target.accepted[key] = [
                c.get("name") or "" for c in block.findall("acceptedCipherSuites/cipherSuite")
            ]
    target.checks["heartbleed"] = (
        _attr(element, "heartbleed/openSslHeartbleed", "isVulnerable") == "True"
    )
    target.checks["ccs-injection"] = (
        _attr(element, "openssl_ccs/openSslCcsInjection", "isVulnerable") == "True"
    )
    target.checks["robot"] = _attr(element, "robot/robotAttack", "resultEnum").startswith(
        "VULNERABLE"
    )
    target.checks["client-renegotiation"] = (
        _attr(element, "reneg/sessionRenegotiation", "canBeClientInitiated") == "True"
    )
    target.checks["insecure-renegotiation"] = (
        _attr(element, "reneg/sessionRenegotiation", "isSecure") == "False"
    )
    target.checks["compression"] = (
        _attr(element, "compression/compressionMethod", "isSupported") == "True"
    )
    target.checks["no-fallback-scsv"] = (
        _attr(element, "fallback/tlsFallbackScsv", "isSupported") == "False"
    )
    target.checks["certificate-hostname"] = (
        _attr(element, "certinfo/hostnameValidation", "certificateMatchesServerHostname") == "False"
    )
    return target


CHECKS = {
    "heartbleed": ("high", "Heartbleed", "vulnerable to Heartbleed.", ["CVE-2014-0160"]),
    "ccs-injection": ("high", "OpenSSL CCS injection", "vulnerable to the OpenSSL CCS injection.", ["CVE-2014-0224"]),
    "robot": ("high", "ROBOT", "vulnerable to the ROBOT attack (RSA padding oracle).", ["CVE-2017-13099"]),
    "client-renegotiation": ("medium", "Client-initiated renegotiation", "accepts client-initiated renegotiation (a DoS vector).", []),
    "insecure-renegotiation": ("medium", "Insecure renegotiation", "does not support secure renegotiation.", []),
    "compression": ("medium", "TLS compression (CRIME)", "supports TLS compression.", ["CVE-2012-4929"]),
    "no-fallback-scsv": ("low", "No TLS_FALLBACK_SCSV", "does not support TLS_FALLBACK_SCSV.", []),
    "certificate-hostname": ("medium", "Certificate does not match the host name", "presents a certificate for another name.", []),
    "certificate-untrusted": ("medium", "Untrusted certificate", "presents a certificate no trust store validates.", []),
}  # fmt: skip


def _report(report: ParsedReport, targets: list[Target]) -> ParsedReport:
    for target in targets:
        if not target.host:
            continue
        service = Item.service(target.host, target.port, "tcp", tls=True)
        report.assets.append(service)

        where = service.value

        def add(
            rule: str,
            severity: str,
            title: str,
            detail: str,
            ids: list[str],
            where: str = where,
            **evidence: Any,
        ) -> None:
            finding = FindingData(
                tool=TOOL, severity=severity, title=title, rule_id=rule,
                description=f"SSLyze on {where}: {detail}", location=where, item=where,
                evidence=evidence, tags=["tls"], vuln_ids=ids,
            )  # fmt: skip
            report.findings.append(finding)

        for key, ciphers in target.accepted.items():
            name, severity = PROTOCOLS[key]
            if ciphers and severity:
                add(
                    f"protocol-{key}",
                    severity,
                    f"{name} enabled",
                    f"{name} is accepted.",
                    [],
                    ciphers=ciphers[:20],
                )
            for cipher in ciphers:
                if _WEAK.search(cipher):
                    add(f"weak-cipher-{cipher}", "medium", f"Weak cipher {cipher} ({name})",
                        f"accepts {cipher} on {name}.", [], cipher=cipher, protocol=name)  # fmt: skip
        for rule, failed in target.checks.items():
            if failed:
                severity, title, detail, ids = CHECKS[rule]
                add(rule, severity, title, detail, ids)
    return report
