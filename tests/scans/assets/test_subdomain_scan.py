"""Subdomain discovery on a real worker, with the team's real scope (targets and an exclusion),
against nsd serving the corp zone (tests/dns_zone.py): the names in scope reach the inventory and
the next step; the excluded name and the name at another domain are kept as leads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.dns_zone import CORP_DOMAIN, AuthoritativeZone
from tests.scanning import wait_scan_done

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_found_names_fill_the_inventory_and_out_of_scope_ones_are_leads(
    worker: Any, owner_api: Any, authorize: Callable[..., Any], make_workflow: Callable[..., Any],
    corp_zone: AuthoritativeZone,
) -> None:  # fmt: skip
    domain = authorize(CORP_DOMAIN)
    authorize(f"*.{CORP_DOMAIN}")
    authorize(f"vpn.{CORP_DOMAIN}", excluded=True)
    # The zone's own name server, which the workflow names: a nameserver a step asks must be
    # the worker's own or in scope (the connect guard, docs/scope-enforcement.md).
    authorize("127.0.0.1")
    config = {"nameserver": corp_zone.nameserver, "zone_transfer_port": corp_zone.port,
              "wordlist": "small", "passive": False}  # fmt: skip
    workflow = make_workflow(
        [
            {"id": "subs", "type": "subdomains", "config": config},
            {
                "id": "resolve",
                "type": "dns_resolve",
                "config": {
                    "nameserver": corp_zone.nameserver,
                    "use_system_resolver": False,
                    "record_types": "A",
                },
            },
        ],
        [("subs", "resolve")],
    )

    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [domain.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"], timeout_s=120)
    assert scan.status == "completed", (
        scan.error,
        [(s.node_id, s.error) for s in scan.steps.all()],
    )

    rows = owner_api.get("/api/v1/assets", {"kind": "domain", "page_size": 500}).json()["results"]
    scope = {row["value"]: row["in_scope"] for row in rows}
    assert scope[f"www.{CORP_DOMAIN}"] is True
    assert scope[f"zz-build-7f3.{CORP_DOMAIN}"] is True  # from the zone transfer
    assert scope[f"vpn.{CORP_DOMAIN}"] is False  # excluded: a lead
    assert scope["portal.partner-elsewhere.test"] is False  # another domain: a lead
    # The next step got the names in scope only.
    resolve = scan.steps.get(node_id="resolve")
    handed = {row["value"] for row in resolve.out_of_scope}
    assert f"vpn.{CORP_DOMAIN}" not in handed  # never handed on, so never dropped either
    assert resolve.items_in >= 8
    findings = owner_api.get(f"/api/v1/scans/{scan.pk}/findings").json()
    rules = {f["rule_id"] for f in findings.get("results", findings)}
    assert {"dns-zone-transfer", "dns-wildcard"} <= rules
