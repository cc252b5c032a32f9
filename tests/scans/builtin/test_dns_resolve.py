"""The built-in dns_resolve: /etc/hosts through the system resolver, and a DNS server on loopback
for everything else (no test asks a resolver outside this machine)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scans.tools import dns_resolve
from targets.items import Item
from tests.scans.builtin.conftest import DnsServer
from tests.scans.conftest import StepContextFactory

ZONE = {
    ("www.outpost.test", "CNAME"): ["web.outpost.test."],
    ("www.outpost.test", "A"): ["127.0.0.1"],
    ("outpost.test", "A"): ["127.0.0.2", "127.0.0.3"],
    ("outpost.test", "AAAA"): ["::1"],
    ("outpost.test", "MX"): ["10 mail.outpost.test."],
    ("outpost.test", "NS"): ["ns1.outpost.test."],
    ("outpost.test", "TXT"): ['"v=spf1 -all"'],
}


@pytest.mark.smoke
def test_it_resolves_localhost_from_the_hosts_file(step_context: StepContextFactory) -> None:
    ctx = step_context(config={"record_types": "A,AAAA"}, items=[Item("host", "localhost")])

    result = dns_resolve.run(ctx)

    assert result.error == ""
    values = {item.value for item in result.items}
    assert "127.0.0.1" in values
    assert values <= {"127.0.0.1", "::1"}
    assert result.items[0].attrs["resolved_from"] == "localhost"
    assert result.items[0].attrs["record"] in {"A", "AAAA"}


@pytest.mark.smoke
def test_an_ip_literal_passes_through_as_itself(step_context: StepContextFactory) -> None:
    result = dns_resolve.run(step_context(items=[Item("host", "::1"), Item("host", "127.0.0.1")]))

    assert [(i.value, i.attrs["record"]) for i in result.items] == [
        ("::1", "literal"),
        ("127.0.0.1", "literal"),
    ]
    assert all(run.exit_code == 0 for run in result.runs)


def test_it_asks_the_configured_nameserver_for_every_record_type(
    step_context: StepContextFactory, dns_server: Callable[..., DnsServer]
) -> None:
    server = dns_server(ZONE)
    config = {"nameserver": server.address, "use_system_resolver": False}

    result = dns_resolve.run(step_context(config=config, items=[Item("host", "outpost.test")]))

    assert result.error == ""
    emitted = {(i.value, i.attrs["record"]) for i in result.items}
    assert emitted == {
        ("127.0.0.2", "A"),
        ("127.0.0.3", "A"),
        ("::1", "AAAA"),
        ("mail.outpost.test", "MX"),
        ("ns1.outpost.test", "NS"),
    }
    assert {kind for _, kind in server.queries} == {"A", "AAAA", "CNAME", "MX", "NS", "TXT"}
    assert '"TXT": ["v=spf1 -all"]' in result.runs[0].stdout.decode()


def test_it_emits_a_cname_target(
    step_context: StepContextFactory, dns_server: Callable[..., DnsServer]
) -> None:
    server = dns_server(ZONE)
    config = {"nameserver": server.address, "use_system_resolver": False, "record_types": "CNAME"}

    result = dns_resolve.run(step_context(config=config, items=[Item("host", "www.outpost.test")]))

    assert [(i.value, i.attrs["record"]) for i in result.items] == [("web.outpost.test", "CNAME")]


def test_an_unknown_name_is_an_answer_not_a_failure(
    step_context: StepContextFactory, dns_server: Callable[..., DnsServer]
) -> None:
    server = dns_server(ZONE)
    config = {"nameserver": server.address, "use_system_resolver": False, "record_types": "A,MX"}

    result = dns_resolve.run(
        step_context(config=config, items=[Item("host", "missing.outpost.test")])
    )

    assert result.items == []
    assert result.error == ""
    assert "missing.outpost.test: no answers" in step_context.logs[0]


def test_a_resolver_that_never_answers_fails_the_step(step_context: StepContextFactory) -> None:
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives queries, answers none
    try:
        config = {
            "nameserver": f"127.0.0.1:{silent.getsockname()[1]}",
            "use_system_resolver": False,
            "record_types": "MX",
            "timeout_ms": 300,
        }
        result = dns_resolve.run(step_context(config=config, items=[Item("host", "outpost.test")]))
    finally:
        silent.close()

    assert result.error.startswith("outpost.test: no lookup succeeded: LifetimeTimeout")


def test_it_describes_one_lookup_per_host() -> None:
    planned = dns_resolve.commands(
        {"record_types": "a, mx,A", "nameserver": "[::1]:5353"},
        [Item("host", "outpost.test"), Item("url", "http://outpost.test/")],
    )

    assert [c.argv for c in planned] == [
        [
            "builtin:dns_resolve", "--types", "A,MX", "--timeout-ms", "3000", "--nameserver", "[::1]:5353",
            "--system-resolver", "--", "outpost.test",
        ]
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"record_types": "A,SRV"}, "record_types: unknown record type 'SRV'"),
        (
            {"nameserver": "dns.example"},
            "nameserver: 'dns.example' is not an IP address or IP:port",
        ),
        ({"nameserver": "resolver:53"}, "nameserver: 'resolver' is not an IP address"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dns_resolve.commands(config, [Item("host", "outpost.test")])
