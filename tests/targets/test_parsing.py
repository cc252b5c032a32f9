"""targets.parsing: one function from a user's string to a typed, normalized target or a precise error."""

from __future__ import annotations

import ipaddress
import string

import idna
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from targets.parsing import MAX_VALUE_LENGTH, TargetParseError, parse_target

SHA = "a" * 64


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("example.com", "domain", "example.com"),
        ("  Example.COM.  ", "domain", "example.com"),
        ("*.Example.com", "domain", "*.example.com"),
        ("bücher.example", "domain", "xn--bcher-kva.example"),
        ("BÜCHER。example", "domain", "xn--bcher-kva.example"),
        ("_dmarc.example.com", "domain", "_dmarc.example.com"),
        ("10.0.0.1", "ip", "10.0.0.1"),
        ("2001:DB8:0:0:0:0:0:1", "ip", "2001:db8::1"),
        ("[2001:db8::1]", "ip", "2001:db8::1"),
        ("::ffff:10.0.0.1", "ip", "10.0.0.1"),
        ("10.0.0.0/8", "cidr", "10.0.0.0/8"),
        ("2001:DB8::/32", "cidr", "2001:db8::/32"),
        ("::ffff:10.0.0.0/104", "cidr", "10.0.0.0/8"),
        ("HTTPS://Example.com:443/a?b=1#frag", "url", "https://example.com/a?b=1"),
        ("http://example.com:80", "url", "http://example.com/"),
        ("http://example.com:8080/x", "url", "http://example.com:8080/x"),
        ("http://[::1]:80/", "url", "http://[::1]/"),
        ("https://bücher.example/ü", "url", "https://xn--bcher-kva.example/%C3%BC"),
        ("https://e.com/`id`", "url", "https://e.com/%60id%60"),
        ("nginx:1.25", "image", "docker.io/library/nginx:1.25"),
        ("index.docker.io/library/nginx:1.25", "image", "docker.io/library/nginx:1.25"),
        ("ghcr.io/org/app", "image", "ghcr.io/org/app"),
        (f"ghcr.io/org/app@sha256:{SHA.upper()}", "image", f"ghcr.io/org/app@sha256:{SHA}"),
        (f"nginx@sha256:{SHA}", "image", f"docker.io/library/nginx@sha256:{SHA}"),
        ("localhost:5000/team/app:dev", "image", "localhost:5000/team/app:dev"),
        ("ghcr.io/org/*", "image", "ghcr.io/org/*"),
        ("ghcr.io/*", "image", "ghcr.io/*"),
        ("git@github.com:org/repo.git", "repo", "ssh://git@github.com/org/repo.git"),
        ("ssh://git@GitHub.com:22/org/repo", "repo", "ssh://git@github.com/org/repo.git"),
        ("git+ssh://git@github.com/org/repo.git", "repo", "ssh://git@github.com/org/repo.git"),
        ("https://GitHub.com/org/repo.git/", "repo", "https://github.com/org/repo.git"),
    ],
)
@pytest.mark.smoke
def test_it_detects_and_normalizes_each_kind(raw: str, kind: str, value: str) -> None:
    parsed = parse_target(raw)
    assert (parsed.kind, parsed.value) == (kind, value)


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("https://github.com/org/repo", "repo", "https://github.com/org/repo.git"),
        ("localhost", "domain", "localhost"),
        ("nginx", "image", "docker.io/library/nginx"),
        ("example.com:8080", "image", "docker.io/library/example.com:8080"),
    ],
)
def test_an_explicit_kind_settles_what_detection_cannot(raw: str, kind: str, value: str) -> None:
    assert parse_target(raw, kind).value == value


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        ("10.0.0.0/33", None, "`10.0.0.0/33`: prefix length must be 0\u201332"),
        ("2001:db8::/129", None, "`2001:db8::/129`: prefix length must be 0\u2013128"),
        ("10.0.0.0/x", None, "`10.0.0.0/x`: prefix length must be 0\u201332"),
        ("10.0.0.1/8", None, "`10.0.0.1/8`: host bits are set; the network is 10.0.0.0/8"),
        ("10.0.0.0", "cidr", "`10.0.0.0`: a CIDR range needs a prefix length: 10.0.0.0/8"),
        (
            "10.0.0.256",
            None,
            "`10.0.0.256`: not a valid IPv4 address (Octet 256 (> 255) not permitted in '10.0.0.256')",
        ),
        ("010.0.0.1", None, "not a valid IPv4 address (Leading zeros are not permitted"),
        ("fe80::1%eth0", None, "`fe80::1%eth0`: an IPv6 zone index (%…) is not allowed"),
        (
            "nginx",
            None,
            "`nginx`: cannot tell whether this is a domain or an image; choose the kind",
        ),
        ("example.com:8080", None, "looks like host:port"),
        ("*.com", None, "a wildcard needs at least two labels"),
        ("a.*.example.com", None, "a wildcard is only allowed as the whole leftmost label"),
        ("exa mple.com", None, "contains whitespace (U+0020)"),
        ("a..example.com", None, "empty label"),
        ("-a.example.com", "domain", "starts with '-'"),
        ("a-.example.com", None, "label `a-` starts or ends with '-'"),
        ("x" * 64 + ".com", None, "is longer than 63 characters"),
        ("xn--zz.com", None, "label `xn--zz` is not valid punycode"),
        ("ftp://example.com/", None, "unsupported scheme `ftp://`"),
        (
            "http://user:pw@example.com/",
            None,
            "credentials (user@ or user:password@) are not allowed",
        ),
        ("http://example.com:99999/", None, "port must be 1\u201365535"),
        ("https://", "url", "missing URL host"),
        ("Nginx:1.25", None, "repository names must be lower-case"),
        ("nginx@sha256:abc", "image", "digest must be algorithm:hex"),
        ("https://github.com/org/../repo.git", None, "'.' and '..' are not allowed"),
        (
            "https://tok@github.com/org/repo.git",
            None,
            "credentials are not allowed in an https repository URL",
        ),
        ("example.com", "planet", "unknown kind `planet`"),
        ("", None, "is empty"),
    ],
)
def test_it_refuses_with_a_precise_message(raw: str, kind: str | None, message: str) -> None:
    with pytest.raises(TargetParseError) as caught:
        parse_target(raw, kind)
    assert message in str(caught.value)


def test_a_value_at_the_length_limit_is_judged_by_its_content_and_one_past_is_refused() -> None:
    label = "a" * 60
    with pytest.raises(TargetParseError, match="253"):
        parse_target(".".join([label] * 5) + ".com")
    with pytest.raises(TargetParseError, match=f"longer than {MAX_VALUE_LENGTH} characters"):
        parse_target("https://example.com/" + "a" * MAX_VALUE_LENGTH)


# --- properties ----------------------------------------------------------------------------

ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
ipv6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
label = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=20)
hostname = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(label, min_size=1, max_size=5),
    st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6),
)


@settings(deadline=None)
@given(ipv4)
def test_ipv4_addresses_round_trip(address: ipaddress.IPv4Address) -> None:
    parsed = parse_target(str(address))
    assert (parsed.kind, parsed.value) == ("ip", str(address))


@settings(deadline=None)
@given(ipv6)
@example(ipaddress.IPv6Address("::ffff:1.2.3.4"))
@example(ipaddress.IPv6Address("::"))
def test_ipv6_addresses_in_any_form_normalize_to_one_value(address: ipaddress.IPv6Address) -> None:
    expected = str(address.ipv4_mapped or address)
    for form in (str(address), address.exploded, address.exploded.upper(), f"[{address}]"):
        assert parse_target(form).value == expected
    assert parse_target(expected).value == expected


@settings(deadline=None)
@given(st.one_of(ipv4, ipv6), st.data())
def test_cidrs_round_trip_and_refuse_host_bits(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, data: st.DataObject
) -> None:
    length = data.draw(st.integers(0, address.max_prefixlen))
    network = ipaddress.ip_network((address, length), strict=False)
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.network_address.ipv4_mapped
        and length >= 96
    ):
        expected = str(ipaddress.IPv4Network((network.network_address.ipv4_mapped, length - 96)))
    else:
        expected = str(network)
    parsed = parse_target(str(network))
    assert (parsed.kind, parsed.value) == ("cidr", expected)
    assert parse_target(expected).value == expected
    if address != network.network_address:
        with pytest.raises(TargetParseError, match="host bits are set"):
            parse_target(f"{address}/{length}")


@settings(deadline=None)
@given(st.one_of(ipv4, ipv6), st.integers(0, 400))
def test_a_prefix_length_past_the_family_is_refused_by_name(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, extra: int
) -> None:
    bits = address.max_prefixlen
    with pytest.raises(TargetParseError, match=f"prefix length must be 0\u2013{bits}"):
        parse_target(f"{address}/{bits + 1 + extra}", "cidr")


@settings(deadline=None)
@given(hostname, st.booleans(), st.booleans())
def test_domains_lower_case_and_are_idempotent(name: str, wildcard: bool, shout: bool) -> None:
    assume(not name.rpartition(".")[2].isdigit())
    raw = ("*." if wildcard else "") + (name.upper() if shout else name) + "."
    parsed = parse_target(raw)
    assert parsed.kind == "domain"
    assert parsed.value == ("*." if wildcard else "") + name
    assert parse_target(parsed.value).value == parsed.value


@settings(deadline=None)
@given(
    st.text(alphabet="abcdeéèüößçñ漢字дж", min_size=1, max_size=15),
    st.sampled_from(["example", "test", "com"]),
)
def test_internationalized_names_become_their_idna_a_labels(unicode_label: str, tld: str) -> None:
    try:
        expected = idna.encode(f"{unicode_label}.{tld}", uts46=True).decode()
    except idna.IDNAError:
        with pytest.raises(TargetParseError):
            parse_target(f"{unicode_label}.{tld}")
        return
    parsed = parse_target(f"{unicode_label}.{tld}")
    assert parsed.value == expected
    assert parsed.value.isascii()
    assert parse_target(parsed.value).value == parsed.value
    assert parse_target(f"https://{unicode_label}.{tld}/").value == f"https://{expected}/"


@settings(deadline=None)
@given(
    st.sampled_from(["http", "https", "HTTP"]),
    hostname,
    st.one_of(st.none(), st.integers(1, 65535)),
    st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%ü`", max_size=8),
        max_size=4,
    ),
)
def test_urls_normalize_idempotently(
    scheme: str, host: str, port: int | None, segments: list[str]
) -> None:
    assume(not host.rpartition(".")[2].isdigit())
    raw = f"{scheme}://{host}{f':{port}' if port else ''}/{'/'.join(segments)}#frag"
    value = parse_target(raw).value
    assert value.startswith(f"{scheme.lower()}://{host}")
    assert "#" not in value and value.isascii() and "`" not in value
    assert f":{80 if scheme.lower() == 'http' else 443}/" not in value
    assert parse_target(value).value == value


@settings(deadline=None)
@given(
    st.sampled_from(["", "ghcr.io/", "localhost:5000/", "registry.example.com:443/"]),
    st.lists(
        st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)?", fullmatch=True), min_size=1, max_size=3
    ),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
    st.booleans(),
)
def test_image_references_normalize_idempotently(
    registry: str, path: list[str], tag: str | None, digest: bool
) -> None:
    # Without a registry, a first component with '.' followed by '/' is read as the registry.
    assume(registry or len(path) == 1 or "." not in path[0])
    raw = (
        registry
        + "/".join(path)
        + (f":{tag}" if tag else "")
        + (f"@sha256:{SHA}" if digest else "")
    )
    value = parse_target(raw, "image").value
    assert value.startswith(registry or "docker.io/")
    assert parse_target(value, "image").value == value


@given(st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_string_is_either_refused_or_an_inert_ascii_value(raw: str) -> None:
    try:
        parsed = parse_target(raw)
    except TargetParseError as exc:
        assert str(exc).startswith("`")
        return
    value = parsed.value
    assert value.isascii() and value.isprintable()
    assert not value.startswith("-")
    assert not any(c.isspace() for c in value)
    if parsed.kind not in ("url", "repo"):
        assert not set(value) & set(";|&$`'\"<>(){}\\!")
