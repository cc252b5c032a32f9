"""Host names (IDNA), IP addresses, CIDR ranges and http(s) URLs."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit

import idna

from targets.parsing.base import _DASH, _SCHEME_RE, TargetParseError, _char_name

_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# Percent-encode everything outside RFC 3986 unreserved + reserved (and '%').
_URL_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_URL_SAFE_QUERY = _URL_SAFE_PATH + "?"
_STRAY_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _alabels(raw: str, text: str) -> str:
    """Lower-case ASCII labels, or IDNA (UTS #46, non-transitional) for internationalized ones."""
    if text.isascii():
        host = text.lower()
        for label in host.split("."):
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except idna.IDNAError as exc:
                    raise TargetParseError(
                        raw, f"label `{label}` is not valid punycode ({exc})"
                    ) from None
        return host
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        labels = [
            label if label.isascii() else idna.alabel(label).decode() for label in mapped.split(".")
        ]
    except (idna.IDNAError, UnicodeError) as exc:
        raise TargetParseError(raw, f"not a valid internationalized domain name ({exc})") from None
    return ".".join(labels).lower()


def parse_hostname(raw: str, text: str) -> str:
    """A host name (no wildcard): lower-case A-labels, at most 253 characters."""
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise TargetParseError(raw, "missing host name")
    host = _alabels(raw, text)
    if len(host) > 253:
        raise TargetParseError(raw, f"a domain name has at most 253 characters ({len(host)})")
    labels = host.split(".")
    for label in labels:
        if not label:
            raise TargetParseError(raw, "empty label (two dots in a row, or a leading dot)")
        if len(label) > 63:
            raise TargetParseError(raw, f"label `{label[:24]}…` is longer than 63 characters")
        if not _LABEL_RE.fullmatch(label):
            bad = next((c for c in label if not (c.isascii() and (c.isalnum() or c in "-_"))), None)
            if bad is not None:
                raise TargetParseError(
                    raw, f"character {_char_name(bad)} is not allowed in a domain name"
                )
            raise TargetParseError(raw, f"label `{label}` starts or ends with '-'")
    if labels[-1].isdigit():
        raise TargetParseError(
            raw, "the last label is all digits: neither a domain name nor an IP address"
        )
    return host


def parse_domain(raw: str, text: str) -> str:
    wildcard = text.startswith("*.")
    name = text[2:] if wildcard else text
    if "*" in name:
        raise TargetParseError(
            raw, "a wildcard is only allowed as the whole leftmost label: *.example.com"
        )
    host = parse_hostname(raw, name)
    if wildcard:
        if "." not in host:
            raise TargetParseError(
                raw, "a wildcard needs at least two labels after '*.' (e.g. *.example.com)"
            )
        return f"*.{host}"
    return host


def _address(raw: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        raise TargetParseError(raw, "an IPv6 zone index (%…) is not allowed")
    try:
        if ":" in text:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(text)
        else:
            address = ipaddress.IPv4Address(text)
    except ipaddress.AddressValueError as exc:
        family = "IPv6" if ":" in text else "IPv4"
        raise TargetParseError(raw, f"not a valid {family} address ({exc})") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_ip(raw: str, text: str) -> str:
    return str(_address(raw, text))


def parse_cidr(raw: str, text: str) -> str:
    address_text, slash, prefix_text = text.partition("/")
    if not slash:
        raise TargetParseError(raw, "a CIDR range needs a prefix length: 10.0.0.0/8")
    if "%" in address_text or address_text.startswith("["):
        raise TargetParseError(
            raw, "write a CIDR range as address/prefix, without brackets or zone"
        )
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = (
            ipaddress.IPv6Address(address_text)
            if ":" in address_text
            else ipaddress.IPv4Address(address_text)
        )
    except ipaddress.AddressValueError as exc:
        family = "IPv6" if ":" in address_text else "IPv4"
        raise TargetParseError(raw, f"not a valid {family} network address ({exc})") from None
    bits = address.max_prefixlen
    if not (prefix_text.isascii() and prefix_text.isdigit()) or int(prefix_text) > bits:
        raise TargetParseError(raw, f"prefix length must be 0{_DASH}{bits}")
    length = int(prefix_text)
    network = ipaddress.ip_network((address, length), strict=False)
    if network.network_address != address:
        raise TargetParseError(raw, f"host bits are set; the network is {network}")
    if isinstance(network, ipaddress.IPv6Network) and length >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return str(ipaddress.IPv4Network((mapped, length - 96)))
    return str(network)


def _host_and_port(raw: str, netloc: str, what: str) -> tuple[str, int | None]:
    """`host[:port]` of a URL: the host normalized (IPv6 in brackets), the port checked."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end == -1:
            raise TargetParseError(raw, f"unclosed '[' in the {what} host")
        host_text, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TargetParseError(raw, f"unexpected characters after the {what} host")
        port_text = rest[1:] if rest else ""
        address = _address(raw, host_text)
        host = f"[{address}]" if address.version == 6 else str(address)
    else:
        host_text, colon, port_text = netloc.partition(":")
        if colon and not port_text:
            raise TargetParseError(raw, "empty port after ':'")
        if not host_text:
            raise TargetParseError(raw, f"missing {what} host")
        if host_text.replace(".", "").isdigit():
            host = parse_ip(raw, host_text)
        else:
            host = parse_hostname(raw, host_text)
    port: int | None = None
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise TargetParseError(raw, f"port must be 1{_DASH}65535")
        port = int(port_text)
    return host, port


def _encode_url_part(text: str, safe: str) -> str:
    return quote(_STRAY_PERCENT_RE.sub("%25", text), safe=safe)


def parse_url(raw: str, text: str) -> str:
    match = _SCHEME_RE.match(text)
    if not match:
        raise TargetParseError(raw, "a URL needs a scheme: http:// or https://")
    scheme = match.group(1).lower()
    if scheme not in ("http", "https"):
        raise TargetParseError(raw, f"only http and https URLs are allowed, not `{scheme}:`")
    if not text[match.end() :].startswith("//"):
        raise TargetParseError(raw, f"missing '//' after '{scheme}:'")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetParseError(raw, f"not a valid URL ({exc})") from None
    if "@" in parts.netloc:
        raise TargetParseError(
            raw, "credentials (user@ or user:password@) are not allowed in a target URL"
        )
    if "\\" in parts.netloc:
        raise TargetParseError(raw, "character '\\' is not allowed in a URL host")
    host, port = _host_and_port(raw, parts.netloc, "URL")
    if port == (443 if scheme == "https" else 80):
        port = None
    path = _encode_url_part(parts.path or "/", _URL_SAFE_PATH)
    query = _encode_url_part(parts.query, _URL_SAFE_QUERY)
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}{f'?{query}' if query else ''}"
