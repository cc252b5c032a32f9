"""Reading a server certificate (DER, parsed with `cryptography`) and judging it for tls_inspect.

Findings and their severity (rule ids are stable: they are part of the finding fingerprint):

    tls-cert-expired          high    the certificate's notAfter has passed
    tls-cert-not-yet-valid    medium  its notBefore is in the future
    tls-cert-expiring         medium  it expires within `expiry_warning_days`
    tls-cert-self-signed      medium  issuer = subject and it verifies with its own key
    tls-hostname-mismatch     medium  the scanned name/IP is not among its SANs (CN when it has none)
    tls-weak-key              medium  RSA/DSA under 2048 bits, EC under 224 bits
    tls-weak-protocol-tlsv1   medium  the server completes a TLS 1.0 handshake  (see tls_inspect)
    tls-weak-protocol-tlsv1.1 medium  the server completes a TLS 1.1 handshake
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from scans.tools.kit.values import is_ip_literal


@dataclass
class CertificateInfo:
    subject: str
    issuer: str
    common_name: str
    dns_names: list[str]
    ip_addresses: list[str]
    not_before: dt.datetime
    not_after: dt.datetime
    serial: str
    signature_algorithm: str
    key_type: str
    key_bits: int
    sha256: str
    is_self_signed: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["not_before"] = self.not_before.isoformat()
        data["not_after"] = self.not_after.isoformat()
        return data


def _key_description(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError):  # an algorithm cryptography cannot load
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # a signature that does not verify, or an algorithm that cannot be checked
        return False
    return True


def certificate_info(der: bytes) -> CertificateInfo:
    """The facts of a DER certificate that recon cares about."""
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = [str(name) for name in sans.get_values_for_type(x509.DNSName)]
        ip_addresses = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns_names, ip_addresses = [], []
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    key_type, key_bits = _key_description(cert)
    oid = cert.signature_algorithm_oid
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=str(common_names[0].value) if common_names else "",
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=format(cert.serial_number, "x"),
        signature_algorithm=getattr(oid, "_name", "") or oid.dotted_string,
        key_type=key_type,
        key_bits=key_bits,
        sha256=hashlib.sha256(der).hexdigest(),
        is_self_signed=_self_signed(cert),
    )


def hostname_matches(host: str, info: CertificateInfo) -> bool:
    """RFC 6125 matching: IPs against IP SANs; names against DNS SANs with a single leftmost
    wildcard label; the CN only when the certificate has no SANs at all."""
    if is_ip_literal(host):
        wanted = ipaddress.ip_address(host)
        return any(ipaddress.ip_address(ip) == wanted for ip in info.ip_addresses)
    host = host.lower().rstrip(".")
    patterns = info.dns_names or (
        [info.common_name] if info.common_name and not info.ip_addresses else []
    )
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            suffix = pattern[1:]
            label = host[: -len(suffix)] if host.endswith(suffix) else ""
            if label and "." not in label:
                return True
        elif pattern == host:
            return True
    return False


def is_weak_key(info: CertificateInfo) -> bool:
    if info.key_type in {"RSA", "DSA"}:
        return info.key_bits < 2048
    if info.key_type.startswith("EC "):
        return info.key_bits < 224
    return False
