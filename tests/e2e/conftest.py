"""Real-browser fixtures: Debian's Chromium (never a downloaded one) driven by Playwright against
pytest-django's `live_server` (a real HTTP server on 127.0.0.1, in a thread of the test process,
on the test database: using `live_server` turns on `transactional_db`, so the test and the server
see each other's rows, on SQLite and on PostgreSQL alike).

How to use them in a page test (see tests/e2e/test_accounts_pages.py):

    pytestmark = [pytest.mark.e2e]

    def test_the_targets_page_lists_a_target(page, live_server, login_as, user, screenshot):
        login_as(user)                              # a session cookie, no login form
        page.goto(f"{live_server.url}/targets/")
        ...
        shots = screenshot(page, "targets-list")    # <name>-1280.png and <name>-390.png
        assert shots.overflow_px[390] == 0          # nothing wider than a phone

- `browser`: one Chromium per test module (headless, no sandbox, no GPU, no background
  networking). It only ever talks to the live server; tests must not load anything else.
- `page`: a fresh browser context and page per test, 1280x900, with `base_url` set to the live
  server, and every console error, page error, failed request and CSP violation collected in
  `page_errors` (a list of strings).
- `dialogs`: the messages of `confirm()` dialogs (`hx-confirm`) the page showed; they are
  accepted unless the test sets `dialogs.accept = False`.
- `login_as(user)`: logs the page's context in by copying a Django session cookie into it.
- `screenshot(page, name)`: full-page PNGs at 1280 and 390 px wide into
  `$OUTPOST_VAR_DIR/screenshots/` (default `var/screenshots/`, ignored by git), and how many
  pixels the page overflows horizontally at each width.

Playwright's sync API keeps an asyncio loop running in the test thread while a browser is open,
and Django refuses ORM calls from a thread with a running loop. The loop is Playwright's, not
ours (no coroutine shares the connection), so DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser
of a module is open and removed when it closes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900}
PHONE_WIDTH = 390
PHONE_HEIGHT = 844


@dataclass
class _BrowserHolder:
    """Starts Playwright and Chromium on first use in a module, stops them at its end."""

    playwright: Any = None
    browser: Any = None
    previous_async_unsafe: str | None = None

    def get(self, executable: str) -> Any:
        if self.browser is None:
            from playwright.sync_api import sync_playwright

            self.previous_async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS
            )
        return self.browser

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.playwright.stop()
            self.browser = self.playwright = None
            if self.previous_async_unsafe is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = self.previous_async_unsafe


@pytest.fixture(scope="module")
def _browser_holder() -> Iterator[_BrowserHolder]:
    holder = _BrowserHolder()
    yield holder
    holder.close()


@pytest.fixture
def browser(chromium_path: str, _browser_holder: _BrowserHolder) -> Any:
    """A headless Chromium (skips, or fails in CI, when /usr/bin/chromium is missing)."""
    return _browser_holder.get(chromium_path)


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors, uncaught page errors, failed requests and CSP violations of `page`."""
    return []


@dataclass
class Dialogs:
    """The `confirm()`/`alert()` messages the page showed; `accept=False` dismisses the next ones."""

    messages: list[str] = field(default_factory=list)
    accept: bool = True


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def page(browser: Any, live_server: Any, page_errors: list[str], dialogs: Dialogs) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(15_000)
    new_page = context.new_page()

    def answer(dialog: Any) -> None:
        dialogs.messages.append(dialog.message)
        if dialogs.accept:
            dialog.accept()
        else:
            dialog.dismiss()

    new_page.on("dialog", answer)
    new_page.on(
        "console",
        lambda message: (
            page_errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    new_page.on("pageerror", lambda error: page_errors.append(f"pageerror: {error}"))
    new_page.on(
        "requestfailed",
        lambda request: (
            # A navigation aborts the page's in-flight polls (HTMX every 2 s): not a failure.
            None
            if "ERR_ABORTED" in str(request.failure)
            else page_errors.append(f"requestfailed: {request.url} {request.failure}")
        ),
    )
    yield new_page
    context.close()


@pytest.fixture
def login_as(page: Any, live_server: Any) -> Callable[[Any], None]:
    """Log the browser in as `user` (its current team: the personal one, unless switched)."""

    def log_in(user: Any) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )

    return log_in


def screenshot_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Screenshots:
    """Where the PNGs went, and by how many pixels the page was wider than the window."""

    paths: dict[int, Path] = field(default_factory=dict)
    overflow_px: dict[int, int] = field(default_factory=dict)


def horizontal_overflow(page: Any) -> int:
    """Pixels by which the document is wider than the viewport (0 when it fits)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def take_screenshots(
    page: Any, name: str, *, widths: tuple[int, ...] = (1280, PHONE_WIDTH)
) -> Screenshots:
    """Full-page screenshots of the current page at each width; restores the viewport after."""
    original = page.viewport_size or DESKTOP
    shots = Screenshots()
    for width in widths:
        page.set_viewport_size(
            {"width": width, "height": PHONE_HEIGHT if width <= PHONE_WIDTH else DESKTOP["height"]}
        )
        page.wait_for_timeout(50)  # one layout pass after the resize
        path = screenshot_dir() / f"{name}-{width}.png"
        # caret="initial": Playwright otherwise injects a style to hide the caret, which the
        # strict CSP blocks (and htmx can copy onto swapped elements) — noise, not a page error.
        page.screenshot(path=str(path), full_page=True, caret="initial")
        shots.paths[width] = path
        shots.overflow_px[width] = max(0, horizontal_overflow(page))
    page.set_viewport_size(original)
    return shots


@pytest.fixture
def screenshot() -> Callable[..., Screenshots]:
    """`screenshot(page, "name")` → Screenshots at 1280 and 390 px (see take_screenshots)."""
    return take_screenshots
