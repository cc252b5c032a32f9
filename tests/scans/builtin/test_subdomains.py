"""The built-in subdomain discovery against a real authoritative server (Debian's nsd on loopback,
tests/dns_zone.py: zone transfers allowed, a wildcard record) and, for the passive sources, a
local HTTP server answering as crt.sh and Cert Spotter do."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scans.tools import subdomains
from scans.tools.kit.dns_bulk import is_under
from targets.items import Item
from tests.dns_zone import AXFR_ONLY_NAMES, CORP_DOMAIN, AuthoritativeZone
from tests.scans.conftest import StepContextFactory

EXCLUDED = f"vpn.{CORP_DOMAIN}"


def corp_scope(item: Item) -> bool:
    """The domain and everything under it, but for one excluded name (like a Target exclusion)."""
    if item.kind != "host":
        return False
    return item.value == "127.0.0.1" or (
        is_under(item.value, CORP_DOMAIN) and item.value != EXCLUDED
    )


def run_discovery(step_context: StepContextFactory, zone: AuthoritativeZone, **config: Any) -> Any:
    base = {"nameserver": zone.nameserver, "zone_transfer_port": zone.port, "passive": False}
    ctx = step_context(
        config={**base, **config}, items=[Item("host", CORP_DOMAIN)], in_scope=corp_scope
    )
    return subdomains.run(ctx)


def test_brute_force_finds_the_wordlist_names_and_sees_through_the_wildcard(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone
) -> None:
    result = run_discovery(step_context, corp_zone, zone_transfer=False, permutations=0)

    assert result.error == ""
    found = {item.value: item.attrs for item in result.items}
    for label in ("www", "mail", "dev", "api", "ns1"):
        assert f"{label}.{CORP_DOMAIN}" in found, label
    assert found[f"mail.{CORP_DOMAIN}"]["addresses"] == ["127.0.0.2"]
    assert found[CORP_DOMAIN]["addresses"] == ["127.0.0.1"]
    # The wildcard answers every other wordlist name with 127.0.0.99: none of them is a name.
    assert not any("127.0.0.99" in attrs.get("addresses", []) for attrs in found.values())
    assert len(found) < 15
    [wildcard] = [f for f in result.findings if f.rule_id == "dns-wildcard"]
    assert wildcard.evidence["answers"] == ["127.0.0.99"]
    # Without the zone transfer, a name no wordlist holds stays unknown.
    assert not AXFR_ONLY_NAMES & {name.split(".")[0] for name in found}


def test_zone_transfer_hands_out_every_name_and_is_a_finding(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone
) -> None:
    result = run_discovery(step_context, corp_zone, wordlist="none", permutations=0)

    found = {item.value: item.attrs["source"] for item in result.items}
    assert found[f"zz-build-7f3.{CORP_DOMAIN}"] == "axfr"
    assert found[f"dev-staging.{CORP_DOMAIN}"] == "axfr"
    [transfer] = [f for f in result.findings if f.rule_id == "dns-zone-transfer"]
    assert transfer.severity == "medium" and transfer.item == CORP_DOMAIN
    assert transfer.location == f"ns1.{CORP_DOMAIN}:{corp_zone.port}"
    assert "handed out the zone" in result.runs[0].stdout.decode()


def test_names_outside_the_scope_are_leads_and_never_handed_on(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone
) -> None:
    result = run_discovery(step_context, corp_zone)

    emitted = {item.value for item in result.items}
    leads = {item.value for item in result.assets}
    # The excluded name, and the CNAME target at another domain, are recorded, not handed on.
    assert EXCLUDED in leads and EXCLUDED not in emitted
    assert "portal.partner-elsewhere.test" in leads
    assert "portal.partner-elsewhere.test" not in emitted
    assert all(is_under(value, CORP_DOMAIN) for value in emitted)


def test_srv_records_and_permutations_find_names_the_wordlist_lacks(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone
) -> None:
    result = run_discovery(step_context, corp_zone, zone_transfer=False)

    found = {item.value: item.attrs["source"] for item in result.items}
    assert found[f"dc-ldap-9q.{CORP_DOMAIN}"] == "srv"
    assert found[f"dev-staging.{CORP_DOMAIN}"] == "permutation"
    assert f"zz-build-7f3.{CORP_DOMAIN}" not in found


def test_a_name_server_out_of_scope_is_not_asked_for_the_zone(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone
) -> None:
    def scope(item: Item) -> bool:
        return corp_scope(item) and item.value != f"ns1.{CORP_DOMAIN}"

    ctx = step_context(
        config={"nameserver": corp_zone.nameserver, "zone_transfer_port": corp_zone.port,
                "wordlist": "none", "permutations": 0, "passive": False},
        items=[Item("host", CORP_DOMAIN)],
        in_scope=scope,
    )  # fmt: skip
    result = subdomains.run(ctx)

    assert not [f for f in result.findings if f.rule_id == "dns-zone-transfer"]
    assert "not asked (name server out of scope)" in result.runs[0].stdout.decode()


# --- Passive sources -------------------------------------------------------------------------


@pytest.fixture
def ct_api() -> Iterator[dict[str, Any]]:
    """Answers like crt.sh (`/?q=%.domain&output=json`) and Cert Spotter
    (`/v1/issuances?domain=…`), and records the requests."""
    seen: dict[str, Any] = {"requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["requests"].append(self.path)
            if self.path.startswith("/v1/issuances"):
                body: Any = [
                    {"id": "1", "dns_names": [CORP_DOMAIN, f"zz-build-7f3.{CORP_DOMAIN}"]},
                    {"id": "2", "dns_names": [f"*.{CORP_DOMAIN}", "shop.other-brand.test"]},
                ]
            else:
                body = [
                    {"issuer_name": "C=US, O=Let's Encrypt", "common_name": f"www.{CORP_DOMAIN}",
                     "name_value": f"www.{CORP_DOMAIN}\nold-portal.{CORP_DOMAIN}"},
                ]  # fmt: skip
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield seen
    server.shutdown()
    server.server_close()


def test_passive_sources_are_off_unless_the_operator_names_them(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone, ct_api: dict[str, Any],
    settings: Any,
) -> None:  # fmt: skip
    settings.SUBDOMAIN_PASSIVE_SOURCES = []
    settings.SUBDOMAIN_PASSIVE_URLS = {"crtsh": ct_api["url"], "certspotter": ct_api["url"]}

    result = run_discovery(
        step_context, corp_zone, wordlist="none", zone_transfer=False, passive=True
    )

    assert ct_api["requests"] == []
    assert "no source enabled" in result.runs[0].stdout.decode()


@pytest.mark.django_db
def test_passive_sources_add_the_names_that_still_resolve(
    step_context: StepContextFactory, corp_zone: AuthoritativeZone, ct_api: dict[str, Any],
    settings: Any,
) -> None:  # fmt: skip
    settings.SUBDOMAIN_PASSIVE_SOURCES = ["crtsh", "certspotter"]
    settings.SUBDOMAIN_PASSIVE_URLS = {"crtsh": ct_api["url"], "certspotter": ct_api["url"]}

    result = run_discovery(
        step_context, corp_zone, wordlist="none", zone_transfer=False, permutations=0,
        srv_records=False, passive=True,
    )  # fmt: skip

    found = {item.value: item.attrs["source"] for item in result.items}
    assert found[f"zz-build-7f3.{CORP_DOMAIN}"] == "certspotter"
    assert found[f"www.{CORP_DOMAIN}"] == "crtsh"
    # old-portal resolves only through the wildcard: no longer a name of its own.
    assert f"old-portal.{CORP_DOMAIN}" not in found
    assert "shop.other-brand.test" in {item.value for item in result.assets}
    assert any(path.startswith("/?q=%25.corp.outpost.test") for path in ct_api["requests"])
    assert any(path.startswith("/v1/issuances?domain=corp.outpost.test") for path in
               ct_api["requests"])  # fmt: skip
