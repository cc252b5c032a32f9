"""The operators' queue page in Debian's Chromium at 1280 and 390 px (issue #20)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django_q.models import Failure

from accounts.models import User

pytestmark = [pytest.mark.e2e]


def test_the_queue_page_for_operators(
    page: Any, login_as: Callable[[Any], None], page_errors: list[str],
    screenshot: Callable[..., Any],
) -> None:  # fmt: skip
    Failure.objects.create(
        id="e" * 32, name="report-7", func="scans.tasks.report_render", args=(7,), kwargs={},
        result="OSError: disk full", started=timezone.now(), stopped=timezone.now(),
        success=False, group="reports",
    )  # fmt: skip
    login_as(User.objects.create_superuser("ops@example.test", "a-long-passphrase-42"))
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/admin/queue/")
    assert "OSError: disk full" in page.inner_text("#content-main")
    screenshot(page, "admin-queue")
    # The admin's pages link no icon: the browser's own /favicon.ico guess is the one 404.
    assert all(url.endswith("/favicon.ico") for url in missing), missing
    assert [e for e in page_errors if "404 (Not Found)" not in e] == []
