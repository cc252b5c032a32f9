"""tls_inspect: the certificate and protocol of a TLS service, judged.

argv: ["builtin:tls_inspect", "--timeout-ms", N, "--expiry-days", N,
       "--weak-protocols" | "--no-weak-protocols", "--", "HOST:PORT"]

One handshake without verification (so expired and self-signed servers can be inspected, with
every protocol version and cipher OpenSSL still has, at security level 0), the peer certificate
read with `cryptography`; then, when asked, one handshake each pinned to TLS 1.0 and TLS 1.1 to see
whether the server still accepts them. A host name is sent as SNI and is what the certificate must
match. Only the given endpoint is contacted. Severity mapping: scans.tools.kit.certificates.

Emits the service with a `tls` attr (protocol, cipher, certificate facts).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import warnings
from typing import Any

from scans.engine.runtime import Command, FindingData, StepContext, StepResult
from scans.tools.kit import fields
from scans.tools.kit.certificates import (
    CertificateInfo,
    certificate_info,
    hostname_matches,
    is_weak_key,
)
from scans.tools.kit.options import BuiltinArgs, ConfigField, flag, timeout_field, validate_config
from scans.tools.kit.records import builtin_commands, step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import (
    endpoint,
    is_ip_literal,
    parse_endpoint,
    parse_service,
    url_endpoint,
)
from targets.items import Item

TOOL = "tls_inspect"
ACCEPTS = {"service", "url"}
EMITS = {"service"}

NODE = Tool(
    type="tls_inspect",
    label="TLS inspect",
    group="Probe",
    icon="lock",
    help="Check certificates and TLS versions: expiry, hostname match, weak protocols.",
    order=20,
)
WEAK_PROTOCOLS = (("TLSv1", "TLSv1"), ("TLSv1.1", "TLSv1_1"))  # (shown name, ssl.TLSVersion member)
CONFIG_FIELDS: list[ConfigField] = [
    fields.request_timeout(5000, 60000, "Timeout of each handshake"),
    fields.integer("expiry_warning_days", 30, 0, 365, "Report certificates that expire within this many days"),
    fields.boolean("check_weak_protocols", True, "Try TLS 1.0 and 1.1 handshakes and report a server that accepts them"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("--expiry-days", type=int, required=True)
_ARGS.add_argument("--weak-protocols", dest="weak_protocols", action="store_true")
_ARGS.add_argument("--no-weak-protocols", dest="weak_protocols", action="store_false")
_ARGS.add_argument("endpoint")


def _endpoint_of(item: Item) -> str | None:
    try:
        if item.kind == "service":
            host, port, proto = parse_service(item.value)
            return endpoint(host, port) if proto == "tcp" else None
        if item.kind == "url":
            scheme, host, port = url_endpoint(item.value)
            return endpoint(host, port) if scheme == "https" else None
    except ValueError:
        return None
    return None


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One inspection per distinct endpoint of the tcp services and https URLs, in input order."""
    options = validate_config(config, CONFIG_FIELDS)
    endpoints = dict.fromkeys(e for e in map(_endpoint_of, items) if e is not None)
    return [
        Command(
            [
                f"builtin:{TOOL}",
                "--timeout-ms",
                str(options["timeout_ms"]),
                "--expiry-days",
                str(options["expiry_warning_days"]),
                flag("weak-protocols", options["check_weak_protocols"]),
                "--",
                target,
            ]
        )
        for target in endpoints
    ]


def _client_context(version: str = "") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # inspect, do not trust: the findings say what is wrong
    context.set_ciphers("ALL:@SECLEVEL=0")  # to see old servers as they are
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0/1.1 for use; asking whether a server still accepts them is
        # the point of the probe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pinned = getattr(ssl.TLSVersion, version) if version else None
        context.minimum_version = pinned or ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = pinned or ssl.TLSVersion.MAXIMUM_SUPPORTED
    return context


def handshake(
    host: str, port: int, timeout_s: float, version: str = "", *, guard: Any = None
) -> dict[str, Any]:
    """One TLS handshake (pinned to `version`, an ssl.TLSVersion member name, when given):
    protocol, cipher and the peer certificate (DER). Raises OSError. With the step's connect
    guard the connection goes to the address it checked (scans.engine.sandbox.guard); SNI keeps
    the name."""
    server_name = None if is_ip_literal(host) else host
    address = host
    if guard is not None:
        guard.in_use = True
        address = guard.address_for(host, port)  # ConnectRefused is an OSError
    with (
        socket.create_connection((address, port), timeout=timeout_s) as raw,
        _client_context(version).wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        cipher = tls.cipher()
        return {
            "protocol": tls.version() or "",
            "cipher": cipher[0] if cipher else "",
            "cipher_bits": cipher[2] if cipher else 0,
            "der": tls.getpeercert(binary_form=True) or b"",
        }


def _finding(
    rule_id: str,
    severity: str,
    title: str,
    description: str,
    remediation: str,
    *,
    where: str,
    info: CertificateInfo,
) -> FindingData:
    return FindingData(
        tool=TOOL,
        severity=severity,
        title=title,
        rule_id=rule_id,
        description=description,
        remediation=remediation,
        location=where,
        item=f"{where}/tcp",
        evidence={
            "subject": info.subject,
            "issuer": info.issuer,
            "dns_names": info.dns_names[:50],
            "ip_addresses": info.ip_addresses[:50],
            "not_before": info.not_before.isoformat(),
            "not_after": info.not_after.isoformat(),
            "sha256": info.sha256,
        },
        tags=["tls"],
    )


def certificate_findings(
    info: CertificateInfo, *, host: str, where: str, expiry_days: int
) -> list[FindingData]:
    now = dt.datetime.now(dt.UTC)
    found = []
    remaining = info.not_after - now
    if remaining.total_seconds() < 0:
        found.append(
            _finding(
                "tls-cert-expired",
                "high",
                "TLS certificate has expired",
                f"The certificate of {where} expired on {info.not_after:%Y-%m-%d}.",
                "Renew the certificate and automate renewal (e.g. ACME).",
                where=where,
                info=info,
            )
        )
    elif remaining < dt.timedelta(days=expiry_days):
        found.append(
            _finding(
                "tls-cert-expiring",
                "medium",
                f"TLS certificate expires within {expiry_days} days",
                f"The certificate of {where} expires on {info.not_after:%Y-%m-%d} ({remaining.days} days left).",
                "Renew the certificate before it expires and automate renewal.",
                where=where,
                info=info,
            )
        )
    if info.not_before > now:
        found.append(
            _finding(
                "tls-cert-not-yet-valid",
                "medium",
                "TLS certificate is not valid yet",
                f"The certificate of {where} is valid only from {info.not_before:%Y-%m-%d %H:%M} UTC.",
                "Check the server clock and the certificate's validity period.",
                where=where,
                info=info,
            )
        )
    if info.is_self_signed:
        found.append(
            _finding(
                "tls-cert-self-signed",
                "medium",
                "TLS certificate is self-signed",
                f"The certificate of {where} is signed by its own key ({info.subject}); clients cannot verify it.",
                "Use a certificate issued by a CA the clients trust.",
                where=where,
                info=info,
            )
        )
    if not hostname_matches(host, info):
        names = ", ".join([*info.dns_names, *info.ip_addresses][:10]) or info.common_name or "none"
        found.append(
            _finding(
                "tls-hostname-mismatch",
                "medium",
                "TLS certificate does not match the host name",
                f"The certificate of {where} is for {names}, not {host}.",
                "Serve a certificate whose subject alternative names include this host.",
                where=where,
                info=info,
            )
        )
    if is_weak_key(info):
        found.append(
            _finding(
                "tls-weak-key",
                "medium",
                f"TLS certificate has a weak {info.key_type} key ({info.key_bits} bits)",
                f"The certificate of {where} uses a {info.key_bits}-bit {info.key_type} key.",
                "Use RSA keys of at least 2048 bits or an EC key (P-256 or better).",
                where=where,
                info=info,
            )
        )
    return found


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    for record, args in builtin_commands(ctx, result, commands(ctx.config, ctx.items), _ARGS):
        ctx.heartbeat()
        host, port = parse_endpoint(args.endpoint)
        where = endpoint(host, port)
        timeout_s = args.timeout_ms / 1000
        try:
            session = handshake(host, port, timeout_s, guard=ctx.connect_guard)
        except (OSError, ValueError) as exc:
            record.say(f"{where}: no TLS handshake: {type(exc).__name__}: {str(exc)[:200]}")
            ctx.log(f"{where}: no TLS handshake ({type(exc).__name__})")
            result.runs.append(record.finish(failed=True))
            continue
        try:
            info = certificate_info(session.pop("der"))
        except ValueError as exc:
            result.runs.append(record.fail(ctx, f"{where}: unreadable certificate: {exc}"))
            continue
        findings = certificate_findings(info, host=host, where=where, expiry_days=args.expiry_days)
        accepted: list[str] = []
        if args.weak_protocols:
            for name, version in WEAK_PROTOCOLS:
                try:
                    handshake(host, port, timeout_s, version, guard=ctx.connect_guard)
                except (OSError, ValueError):
                    continue
                accepted.append(name)
                findings.append(
                    _finding(
                        f"tls-weak-protocol-{name.lower()}",
                        "medium",
                        f"Server accepts {name}",
                        f"{where} completes a {name} handshake; {name} is deprecated (RFC 8996).",
                        "Disable TLS 1.0 and 1.1; allow TLS 1.2 and 1.3 only.",
                        where=where,
                        info=info,
                    )
                )
        tls = {**session, "certificate": info.to_dict(), "weak_protocols_accepted": accepted}
        record.record({"endpoint": where, **tls})
        result.items.append(Item.service(host, port, "tcp", tls=tls))
        result.findings.extend(findings)
        ctx.log(
            f"{where}: {session['protocol']} {session['cipher']}, certificate for "
            f"{info.common_name or info.subject} until {info.not_after:%Y-%m-%d}; {len(findings)} finding(s)"
        )
        result.runs.append(record.finish())
    result.error = step_error(result.runs)
    return result
