"""The list pages whose tables are written with `{% datatable %}` (config/tables.py), in a real
browser at 1280 and 390 px: empty, each shows its empty text and no table; with rows, one
wrapped table with the header and a row per item, fitting the width (small screens read each
cell's label), and saved as screenshots to look at (var/screenshots/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Team, User
from integrations.schedules.services import schedule_create
from integrations.services import integration_create, rule_create

pytestmark = [pytest.mark.e2e]

PAGES = {
    "/integrations/": ("table.integrations", "No integrations yet."),
    "/integrations/schedules/": ("table.schedules", "No scheduled scans."),
    "/workflows/": ("table.wf-table", "No workflows yet."),
}


def test_each_list_shows_its_empty_text_and_then_a_row_per_item_in_one_table(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
    team: Team,
    make_workflow: Callable[..., Any],
    authorize: Callable[..., Any],
) -> None:
    login_as(user)
    for url, (table, empty) in PAGES.items():
        page.goto(url)
        assert page.locator(table).count() == 0
        assert page.get_by_text(empty).count() == 1

    mail = integration_create(
        team=team, user=user, kind="email", name="Security team mailbox",
        recipients=["secops@example.test", "on-call-with-a-long-address@example.test"],
    )  # fmt: skip
    rule_create(team=team, user=user, event="scan_completed", integration_id=mail.pk)
    rule_create(
        team=team, user=user, event="new_finding", integration_id=mail.pk, min_severity="high"
    )
    workflow = make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}], name="Nightly ports"
    )
    make_workflow([{"id": "probe", "type": "http_probe"}], name="Web probe")
    target = authorize("127.0.0.1")
    schedule_create(
        team=team, user=user, name="Nightly ports on the lab", workflow_id=workflow.pk,
        target_ids=[target.pk], consent=True, cron="0 3 * * *",
    )  # fmt: skip

    rows = {"table.integrations": 1, "table.rules": 2, "table.schedules": 1, "table.wf-table": 2}
    for url, (_table, empty) in PAGES.items():
        page.goto(url)
        assert page.get_by_text(empty).count() == 0
        for name, count in rows.items():
            if page.locator(name).count():
                assert page.locator(f".table-wrap > {name} > tbody > tr").count() == count
                assert page.locator(f"{name} > thead th").count() >= 4
        shots = screenshot(page, "list-" + url.strip("/").replace("/", "-"))
        assert shots.overflow_px == {1280: 0, 390: 0}
    assert page_errors == []
