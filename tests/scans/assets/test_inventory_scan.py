"""The must-show scans, on a real worker against a lab on 127.0.0.1 (web servers, a redirect, a
TLS server with a self-signed certificate, a DNS zone served by dnsmasq):

- the inventory holds the domain → IP → services → URLs → certificate chain, in the API;
- a second scan after closing a port and changing a page title reports exactly those changes
  and marks the service gone;
- a "new service" rule fires once when a port opens (a local webhook receiver gets it), and not
  again when the next scan sees the same ports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_q.models import Task

from integrations.services import rule_create
from scans.models import Scan
from tests.scanning import wait_scan_done
from tests.scans.assets.lab import Lab, html, make_lab
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab(web_server: Any, tmp_path: Path, dns_zone: Any) -> Any:
    made = make_lab(web_server, tmp_path / "certs", dns_zone)
    yield made
    made.close()


def _scan(api: Any, workflow: Any, target: Any) -> Scan:
    answer = api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"], timeout_s=120)
    steps = {s.node_id: (s.status, s.error) for s in scan.steps.all()}
    assert scan.status == "completed", (scan.error, steps)
    return scan


def _asset(api: Any, kind: str, value: str) -> dict[str, Any]:
    page = api.get("/api/v1/assets", {"kind": kind, "q": value, "page_size": 500}).json()
    found = [a for a in page["results"] if a["value"] == value]
    assert found, f"no {kind} {value} in {[a['value'] for a in page['results']]}"
    detail = api.get(f"/api/v1/assets/{found[0]['id']}")
    assert detail.status_code == 200
    return dict(detail.json())


def _changes(api: Any, scan: Scan) -> set[tuple[str, str, str]]:
    body = api.get(f"/api/v1/scans/{scan.pk}/assets", {"page_size": 500}).json()
    return {
        (r["change"], r["asset"]["kind"], r["asset"]["value"])
        for r in body["results"]
        if r["change"] != "seen"
    }


def test_a_scan_of_the_lab_fills_the_inventory_and_a_rescan_reports_what_changed(
    worker: Any, owner_api: Any, authorize: Callable[..., Any], make_workflow: Callable[..., Any],
    lab: Lab, receiver: Any, make_integration: Callable[..., Any], user: Any, team: Any,
) -> None:  # fmt: skip
    domain = authorize("lab.outpost.test")
    authorize("127.0.0.1")
    nodes, edges = lab.graph_nodes()
    workflow = make_workflow(nodes, edges, name="lab recon")
    web, moved, tls = (f"127.0.0.1:{s.port}" for s in (lab.web, lab.redirect, lab.tls))

    first = _scan(owner_api, workflow, domain)

    # The chain: domain → IP → services → URLs, and the TLS service's certificate.
    name = _asset(owner_api, "domain", "lab.outpost.test")
    assert [(link["relation"], link["asset"]["value"]) for link in name["links"]] == [
        ("resolves_to", "127.0.0.1")
    ]
    ip = _asset(owner_api, "ip", "127.0.0.1")
    assert {c["value"] for c in ip["children"] if c["kind"] == "service"} == {
        f"{web}/tcp",
        f"{moved}/tcp",
        f"{tls}/tcp",
    }  # the spare port is closed
    assert [link["asset"]["value"] for link in ip["links"] if link["direction"] == "in"] == [
        "lab.outpost.test"
    ]
    service = _asset(owner_api, "service", f"{web}/tcp")
    assert [a["value"] for a in service["ancestors"]] == ["127.0.0.1"]
    assert [c["value"] for c in service["children"]] == [f"http://{web}/"]
    page = _asset(owner_api, "url", f"http://{web}/")
    assert (page["status_code"], page["attrs"]["title"]) == (200, "Lab home")
    assert {"name": "nginx", "version": "1.25.3", "category": "web server"} in page["attrs"][
        "technologies"
    ]
    redirecting = _asset(owner_api, "url", f"http://{moved}/")
    assert redirecting["status_code"] == 302
    assert redirecting["attrs"]["redirect_to"] == f"http://{moved}/login"
    assert _asset(owner_api, "url", f"http://{moved}/login")["attrs"]["title"] == "Sign in"
    secure = _asset(owner_api, "service", f"{tls}/tcp")
    assert secure["attrs"]["tls"] is True
    assert [c["value"] for c in secure["children"]] == [f"https://{tls}/"]
    certificate = secure["certificate_asset"]
    assert certificate["kind"] == "certificate"
    assert certificate["attrs"]["common_name"] == "lab.outpost.test"
    assert certificate["attrs"]["is_self_signed"] is True
    assert certificate["attrs"]["dns_names"] == ["lab.outpost.test"]
    served = _asset(owner_api, "certificate", certificate["value"])["served_by"]
    assert [s["value"] for s in served] == [f"{tls}/tcp"]
    # Findings point at the asset they are about (the TLS findings at the TLS service).
    assert any(f["title"].startswith("TLS certificate is self-signed") for f in secure["findings"])
    first_set = owner_api.get(f"/api/v1/scans/{first.pk}/assets").json()
    assert first_set["previous_scan"] is None and first_set["counts"]["new"]["service"] == 3

    # A second scan: one port closed, one page retitled.
    lab.redirect.close()
    lab.web.routes["/"] = html("Lab home v2")
    second = _scan(owner_api, workflow, domain)
    assert _changes(owner_api, second) == {
        ("changed", "url", f"http://{web}/"),
        ("gone", "service", f"{moved}/tcp"),
        ("gone", "url", f"http://{moved}/"),
        ("gone", "url", f"http://{moved}/login"),
    }
    body = owner_api.get(f"/api/v1/scans/{second.pk}/assets").json()
    assert body["previous_scan"] == first.pk
    assert body["summary"] == "-1 service, -2 URLs, 1 changed"
    retitled = _asset(owner_api, "url", f"http://{web}/")
    assert retitled["history"][0]["kind"] == "changed"
    assert retitled["history"][0]["changes"] == {"title": ["Lab home", "Lab home v2"]}
    assert retitled["history"][0]["scan"] == second.pk
    closed = _asset(owner_api, "service", f"{moved}/tcp")
    assert closed["state"] == "gone" and closed["last_scan"] == first.pk
    assert closed["history"][0]["kind"] == "gone"

    # A "new service" rule, then a port opens: one message; the next scan sends none.
    hook = make_integration("webhook", url=receiver.url("/hook"), name="lab hook")
    rule_create(team=team, user=user, event="new_service", integration_id=hook.pk)
    lab.open_spare()
    third = _scan(owner_api, workflow, domain)
    assert ("new", "service", f"127.0.0.1:{lab.spare_port}/tcp") in _changes(owner_api, third)
    [message] = receiver.wait_for("/hook", 1)
    payload = message.json()
    assert payload["event"] == "asset_changes"
    assert [a["value"] for a in payload["assets"]] == [f"127.0.0.1:{lab.spare_port}/tcp"]
    assert payload["title"] == f"Scan #{third.pk} (lab recon): 1 new service"

    fourth = _scan(owner_api, workflow, domain)
    wait_for(
        lambda: Task.objects.filter(name=f"rules-scan-{fourth.pk}").exists(),
        what="the fourth scan's notification rules to be evaluated",
    )
    assert not any(c[0] == "new" for c in _changes(owner_api, fourth))
    assert len(receiver.to("/hook")) == 1
