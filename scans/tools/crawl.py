"""crawl: map a web app by following its links (built in, scope-checked).

argv: ["builtin:crawl", "--max-depth", N, "--max-pages", N, "--same-origin" | "--any-origin",
       "--robots" | "--no-robots", "--concurrency", N, "--timeout-ms", N, "--", START_URL]

Breadth first from each start URL: links from HTML (`href`, `src`, `action`, `data-url`…,
`<meta http-equiv=refresh>`), paths and URLs quoted in JavaScript (inline and `.js` files), the
`Location` of redirects, and the paths and sitemaps of robots.txt and sitemap.xml (read for what
they list, like every recon crawler; `Disallow` lines are paths too). Depth and page limits
bound the crawl; cancellation and the step timeout are checked between batches.

Every URL passes the scope check before it is requested, and with `same_origin` (the default)
only the start URL's scheme, host and port are fetched. A link that may not be fetched is never
requested: out of scope, it is recorded in the inventory as a lead; in scope but on another
origin, it is recorded in the inventory too (not handed on).

Emits a `url` item per page fetched (status, title, content type and length, redirect target)
and per form (`method`, `parameters`: the names of its fields; a GET form's parameters are also
in the URL's query), and a `url` item per link with a query string (its parameters). No findings.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

from defusedxml.ElementTree import fromstring as xml_fromstring

from scans.engine.runtime import Command, StepContext, StepResult
from scans.tools.kit import fields
from scans.tools.kit.http_checks import page_title
from scans.tools.kit.options import BuiltinArgs, ConfigField, flag, timeout_field, validate_config
from scans.tools.kit.records import BuiltinRun, builtin_commands, step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import canonical_url
from scans.tools.kit.web_fetch import Beat, Page, fetch_pages
from targets.items import Item

TOOL = "crawl"
ACCEPTS = {"url"}
EMITS = {"url"}

NODE = Tool(
    type="crawl",
    label="Crawler",
    group="Probe",
    icon="link",
    help="Follow a web app's links, scripts, robots.txt and sitemap; record pages and forms.",
    order=40,
)
MAX_BODY = 512 * 1024
LINK_ATTRS = {"href", "src", "action", "data-url", "data-src", "formaction", "poster"}
# Quoted paths and URLs in JavaScript: "/api/users", '/static/app.js', "https://host/x".
JS_URL = re.compile(
    r"""["'`]((?:https?://[^\s"'`<>]{3,300})|(?:/[A-Za-z0-9_\-./?=&%~]{1,300}))["'`]"""
)
ROBOTS_LINE = re.compile(r"^\s*(?:dis)?allow\s*:\s*(\S+)|^\s*sitemap\s*:\s*(\S+)", re.I | re.M)
SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "#")

CONFIG_FIELDS: list[ConfigField] = [
    fields.integer("max_depth", 3, 0, 20, "Links followed from the start URL"),
    fields.integer("max_pages", 500, 1, 100_000, "Pages fetched per start URL at most"),
    fields.boolean("same_origin", True, "Fetch only the start URL's scheme, host and port (other in-scope links recorded)"),
    fields.boolean("robots", True, "Read robots.txt and sitemap.xml for more paths"),
    fields.concurrency(10, 200),
    fields.request_timeout(10000, 60000, "Timeout of each request"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--max-depth", type=int, required=True)
_ARGS.add_argument("--max-pages", type=int, required=True)
_ARGS.add_argument("--same-origin", dest="same_origin", action="store_true")
_ARGS.add_argument("--any-origin", dest="same_origin", action="store_false")
_ARGS.add_argument("--robots", action="store_true")
_ARGS.add_argument("--no-robots", dest="robots", action="store_false")
_ARGS.add_argument("--concurrency", type=int, required=True)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("start")


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One crawl per URL item."""
    options = validate_config(config, CONFIG_FIELDS)
    argv = [f"builtin:{TOOL}", "--max-depth", str(options["max_depth"])]
    argv += ["--max-pages", str(options["max_pages"])]
    argv += ["--same-origin" if options["same_origin"] else "--any-origin"]
    argv += [flag("robots", options["robots"]), "--concurrency", str(options["concurrency"])]
    argv += ["--timeout-ms", str(options["timeout_ms"])]
    return [Command([*argv, "--", item.value]) for item in items if item.kind == "url"]


class _Links(HTMLParser):
    """Links, forms and inline scripts of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.links.extend(values[name] for name in LINK_ATTRS if values.get(name))
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            _, _, target = values.get("content", "").partition("=")
            if target.strip():
                self.links.append(target.strip().strip("'\""))
        elif tag == "form":
            method = values.get("method", "get").lower()
            self.forms.append({"action": values.get("action", ""), "method": method, "fields": []})
        elif tag in {"input", "select", "textarea", "button"} and self.forms and values.get("name"):
            self.forms[-1]["fields"].append(values["name"])
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _clean(base: str, link: str) -> str | None:
    link = link.strip()
    if not link or link.lower().startswith(SKIP_SCHEMES):
        return None
    url = urldefrag(urljoin(base, link))[0]
    if not url.lower().startswith(("http://", "https://")):
        return None
    try:
        return canonical_url(url)
    except ValueError:
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def page_links(page: Page) -> tuple[list[str], list[dict[str, Any]]]:
    """(links, forms) of a page: HTML, JavaScript, robots.txt or a sitemap, by its type."""
    text = page.text
    path = urlsplit(page.url).path
    links: list[str] = []
    forms: list[dict[str, Any]] = []
    if page.location:
        links.append(page.location)
    if path == "/robots.txt":
        links += [m.group(1) or m.group(2) for m in ROBOTS_LINE.finditer(text)]
        links = [link.split("*")[0].split("$")[0] for link in links]
    elif path.endswith(".xml") or "xml" in page.content_type:
        # Not a sitemap, or hostile XML (defusedxml refuses entities): no links from it.
        with contextlib.suppress(Exception):
            root = xml_fromstring(page.body)
            links += [(e.text or "").strip() for e in root.iter() if e.tag.endswith("loc")]
    elif "javascript" in page.content_type or path.endswith(".js"):
        links += JS_URL.findall(text)
    elif "html" in page.content_type or not page.content_type:
        parser = _Links()
        with contextlib.suppress(AssertionError, ValueError):
            parser.feed(text)
        links += parser.links
        for script in parser.scripts:
            links += JS_URL.findall(script)
        forms = parser.forms
    return links, forms


class Crawl:
    """One crawl from a start URL."""

    def __init__(self, ctx: StepContext, args: Any, record: BuiltinRun) -> None:
        self.ctx, self.args, self.record = ctx, args, record
        self.origin = _origin(args.start)
        self.seen: set[str] = set()
        self.pages: dict[str, Item] = {}
        self.other: dict[str, Item] = {}  # links not fetched: other origins, out of scope
        self.leads = 0
        self.fetched = 0

    def admit(self, url: str) -> bool:
        """May this URL be fetched? Records it as an asset when it may not."""
        if url in self.seen or url in self.other:
            return False
        in_scope = self.ctx.in_scope(Item("url", url))
        if in_scope and (not self.args.same_origin or _origin(url) == self.origin):
            self.seen.add(url)
            return True
        self.other[url] = Item("url", url, {"linked_from": self.args.start})
        self.leads += 0 if in_scope else 1
        return False

    def run(self) -> None:
        beat = Beat(self.ctx.heartbeat)
        start = canonical_url(self.args.start)
        level = [u for u in [start] if self.admit(u)]
        if self.args.robots:
            for path in ("/robots.txt", "/sitemap.xml"):
                url = canonical_url(urljoin(start, path))
                if self.admit(url):
                    level.append(url)
        depth = 0
        while level and not self.ctx.is_cancelled():
            room = self.args.max_pages - self.fetched
            batch, level = level[:room], []
            for page in fetch_pages(
                batch, concurrency=self.args.concurrency, timeout_s=self.args.timeout_ms / 1000,
                max_body=MAX_BODY, guard=self.ctx.connect_guard,
            ):  # fmt: skip
                beat()
                if self.ctx.is_cancelled():
                    break
                self.fetched += 1
                level += self.take(page, follow=depth < self.args.max_depth)
            depth += 1
            if self.fetched >= self.args.max_pages:
                if level:
                    self.record.say(f"page limit {self.args.max_pages} reached")
                break

    def take(self, page: Page, *, follow: bool) -> list[str]:
        """Record one page; the new URLs it links to that may be fetched."""
        if page.error:
            self.record.say(f"{page.url}: {page.error}")
            return []
        special = urlsplit(page.url).path in {"/robots.txt", "/sitemap.xml"}
        if special and page.status != 200:
            return []
        attrs: dict[str, Any] = {"status": page.status, "content_length": page.length}
        if page.content_type:
            attrs["content_type"] = page.content_type
        if "html" in page.content_type:
            title = page_title(page.text)
            if title:
                attrs["title"] = title
        links, forms = page_links(page)
        if page.location:
            attrs["redirect_to"] = urljoin(page.url, page.location)
        known = self.pages.get(page.url)  # a form's action or a query link seen before
        self.pages[page.url] = Item("url", page.url, {**(known.attrs if known else {}), **attrs})
        found: list[str] = []
        for link in links:
            url = _clean(page.url, link)
            if url is None:
                continue
            query = urlsplit(url).query
            if query and url not in self.pages:
                names = sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)})
                self.pages.setdefault(url, Item("url", url, {"parameters": names}))
            if follow and self.admit(url):
                found.append(url)
        for form in forms:
            self._form(page.url, form)
        return found

    def _form(self, page_url: str, form: dict[str, Any]) -> None:
        action = _clean(page_url, form["action"] or page_url)
        if action is None:
            return
        attrs = {"method": form["method"].upper(), "parameters": sorted(set(form["fields"]))}
        if not self.ctx.in_scope(Item("url", action)):
            self.other.setdefault(action, Item("url", action, attrs))
            return
        known = self.pages.get(action)
        self.pages[action] = Item("url", action, {**(known.attrs if known else {}), **attrs})


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    for record, args in builtin_commands(ctx, result, commands(ctx.config, ctx.items), _ARGS):
        crawl = Crawl(ctx, args, record)
        try:
            crawl.run()
        except ValueError as exc:
            result.runs.append(record.finish(error=f"{args.start}: {exc}"))
            continue
        result.items.extend(crawl.pages.values())
        result.assets.extend(crawl.other.values())
        summary = (
            f"{args.start}: {crawl.fetched} pages fetched, {len(crawl.pages)} URLs and forms, "
            f"{len(crawl.other)} links not followed ({crawl.leads} out of scope)"
        )
        record.conclude(ctx, summary)
        failed = crawl.fetched > 0 and all(
            item.attrs.get("status") is None for item in crawl.pages.values()
        )
        result.runs.append(record.finish(cancelled=ctx.is_cancelled(), failed=failed))
    result.error = step_error(result.runs)
    return result
