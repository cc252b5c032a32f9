"""http_probe: find web servers on services and fetch URLs; record what they answer.

argv: ["builtin:http_probe", "--schemes", "https,http", "--timeout-ms", N, "--max-redirects", N,
       "--max-body-kb", N, "--check-headers" | "--no-check-headers", "--", TARGET]
TARGET is a service value ("127.0.0.1:8080/tcp": tried as https then http, the first scheme that
answers wins) or a URL (fetched as it is).

Redirects are followed by hand, never by the HTTP client: each target must pass `ctx.in_scope`
before it is requested, and an out-of-scope one is logged and left alone. Certificates are not
verified (recon meets self-signed servers; tls_inspect judges certificates), no proxy or
credentials from the environment are used and cookies are not carried between requests.

Emits one `url` item per response (status, title, server, content type and length, where it
redirects, the technologies its Server and X-Powered-By headers name: docs/inventory.md);
findings for missing security headers on final (non-redirect) responses, see http_checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

from scans.engine.runtime import Command, StepContext, StepResult
from scans.engine.sandbox.guard import ConnectGuard, guarded_transport
from scans.tools.kit import fields
from scans.tools.kit.http_checks import page_title, security_header_findings
from scans.tools.kit.options import BuiltinArgs, ConfigField, flag, timeout_field, validate_config
from scans.tools.kit.records import builtin_commands, step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import canonical_url, parse_service, url_for
from targets.items import Item

TOOL = "http_probe"
ACCEPTS = {"service", "url"}
EMITS = {"url"}

NODE = Tool(
    type="http_probe",
    label="HTTP probe",
    group="Probe",
    icon="http",
    help="Find web servers on hosts and services: status, title, server, redirects.",
    order=10,
)
USER_AGENT = "Outpost-http-probe/1.0"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
SCHEME_ORDERS = ["https,http", "https", "http"]
CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("schemes", "https,http", SCHEME_ORDERS, "Which schemes to try on a service, in order (the first that answers wins)"),
    fields.request_timeout(5000, 60000, "Timeout of each request"),
    fields.integer("max_redirects", 5, 0, 20, "Redirects to follow (each must be in scope)"),
    fields.integer("max_body_kb", 256, 1, 4096, "How much of each body to read (for the title)"),
    fields.boolean("check_headers", True, "Report missing security headers (HSTS, CSP, X-Content-Type-Options, X-Frame-Options)"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--schemes", choices=SCHEME_ORDERS, required=True)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("--max-redirects", type=int, required=True)
_ARGS.add_argument("--max-body-kb", type=int, required=True)
_ARGS.add_argument("--check-headers", action="store_true")
_ARGS.add_argument("--no-check-headers", dest="check_headers", action="store_false")
_ARGS.add_argument("target")


def _probe_target(item: Item) -> str | None:
    if item.kind == "url":
        try:
            return canonical_url(item.value)
        except ValueError:
            return None
    if item.kind == "service":
        try:
            return item.value if parse_service(item.value)[2] == "tcp" else None
        except ValueError:
            return None
    return None


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One probe per tcp service or http(s) URL item, in input order."""
    options = validate_config(config, CONFIG_FIELDS)
    argvs = []
    for item in items:
        target = _probe_target(item)
        if target is None:
            continue
        argvs.append(
            Command(
                [
                    f"builtin:{TOOL}",
                    "--schemes",
                    options["schemes"],
                    "--timeout-ms",
                    str(options["timeout_ms"]),
                    "--max-redirects",
                    str(options["max_redirects"]),
                    "--max-body-kb",
                    str(options["max_body_kb"]),
                    flag("check-headers", options["check_headers"]),
                    "--",
                    target,
                ]
            )
        )
    return argvs


@dataclass
class Answer:
    """One HTTP response, as recorded."""

    url: str
    status: int
    headers: dict[str, str]
    title: str = ""
    http_version: str = ""
    location: str = ""  # the absolute redirect target, when this is a redirect
    elapsed_ms: float = 0.0
    body_length: int | None = None  # bytes of the body, when it was read whole
    attrs: dict[str, Any] = field(default_factory=dict)

    def item_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "status": self.status,
            "title": self.title,
            "server": self.headers.get("server", "")[:200],
            "content_type": self.headers.get("content-type", "")[:200],
            "http_version": self.http_version,
            "tls": self.url.startswith("https://"),
            "tls_verified": False,
        }
        length = self.headers.get("content-length", "")
        if length.isdigit():
            attrs["content_length"] = int(length)
        elif self.body_length is not None:
            attrs["content_length"] = self.body_length
        technologies = header_technologies(self.headers)
        if technologies:
            attrs["technologies"] = technologies
        if self.location:
            attrs["redirect_to"] = self.location
        return {**attrs, **self.attrs}


# What a response's headers name about the software behind it: (header, category).
TECHNOLOGY_HEADERS = (("server", "web server"), ("x-powered-by", "framework"))


def header_technologies(headers: dict[str, str]) -> list[dict[str, str]]:
    """Technologies the Server and X-Powered-By headers name ("nginx/1.25.3",
    "Apache/2.4.57 (Debian)", "PHP/8.2.7"): name, version when given, category."""
    found = []
    for header, category in TECHNOLOGY_HEADERS:
        # Repeated headers arrive joined with ", ".
        for product in headers.get(header, "").replace(",", " ").split()[:4]:
            if product.startswith("("):
                continue  # a comment: "(Debian)"
            name, _, version = product.partition("/")
            if name and len(name) <= 60:
                entry = {"name": name, "category": category}
                if version:
                    entry["version"] = version[:40]
                found.append(entry)
    return found


def fetch(client: httpx.Client, url: str, max_body_bytes: int) -> Answer:
    """GET one URL without following redirects; read at most `max_body_bytes` of the body, and
    for no longer than the client's read timeout in all (httpx's timeouts are per read, so a
    server dripping a byte at a time could otherwise hold the probe for hours)."""
    client.cookies.clear()  # nothing learned from one response is sent with the next
    started = time.monotonic()
    with client.stream("GET", url) as response:
        read_until = time.monotonic() + (client.timeout.read or 10.0)
        body = bytearray()
        whole = True
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= max_body_bytes or time.monotonic() > read_until:
                whole = False
                break
        headers = {name.lower(): value for name, value in response.headers.items()}
        answer = Answer(
            url=url,
            status=response.status_code,
            headers=headers,
            http_version=response.http_version,
            elapsed_ms=(time.monotonic() - started) * 1000,
            body_length=len(body) if whole else None,
        )
        if "html" in headers.get("content-type", "html").lower():
            text = bytes(body[:max_body_bytes]).decode(
                response.charset_encoding or "utf-8", errors="replace"
            )
            answer.title = page_title(text)
        location = headers.get("location", "")
        if response.status_code in REDIRECT_STATUSES and location:
            answer.location = urljoin(url, location.strip())
    return answer


def follow(
    client: httpx.Client, url: str, ctx: StepContext, *, max_redirects: int, max_body_bytes: int
) -> list[Answer]:
    """The chain of answers from `url`, following in-scope redirects up to `max_redirects`.
    Only the first request's failure raises (the caller then tries the next scheme)."""
    chain = [fetch(client, url, max_body_bytes)]
    while chain[-1].location:
        here, there = chain[-1].url, chain[-1].location
        try:
            target = canonical_url(there)
        except ValueError:
            ctx.log(f"{here}: redirect to {there[:300]} not followed: not an http(s) URL")
            break
        if len(chain) > max_redirects:
            ctx.log(
                f"{here}: redirect to {target} not followed: {max_redirects} redirects already followed"
            )
            break
        if any(answer.url == target for answer in chain):
            ctx.log(f"{here}: redirect to {target} not followed: a redirect loop")
            break
        if not ctx.in_scope(Item("url", target)):
            ctx.log(f"{here}: redirect to {target} not followed: out of scope")
            break
        if ctx.is_cancelled():
            break
        try:
            chain.append(fetch(client, target, max_body_bytes))
        except httpx.HTTPError as exc:
            ctx.log(f"{here}: redirect to {target} failed: {type(exc).__name__}: {str(exc)[:200]}")
            break
    return chain


def _client(timeout_ms: int, guard: ConnectGuard | None = None) -> httpx.Client:
    # Every connection passes the step's connect-time scope check when there is one (the
    # address is checked and pinned; SNI and Host keep the name): scans.engine.sandbox.guard.
    transport = (
        guarded_transport(guard, verify=False, trust_env=False) if guard is not None else None
    )
    return httpx.Client(
        verify=False,  # noqa: S501  recon meets self-signed certificates; tls_inspect judges them
        follow_redirects=False,
        trust_env=False,  # no proxies, .netrc or certificate bundles from the worker's environment
        timeout=httpx.Timeout(timeout_ms / 1000),
        headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
        transport=transport,
    )


def _start_urls(target: str, schemes: str) -> list[str]:
    if "://" in target:
        return [canonical_url(target)]
    host, port, _proto = parse_service(target)
    return [url_for(scheme, host, port) for scheme in schemes.split(",")]


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    seen: set[str] = set()
    planned = commands(ctx.config, ctx.items)
    for done, (record, args) in enumerate(builtin_commands(ctx, result, planned, _ARGS)):
        ctx.progress(done, len(planned))
        ctx.heartbeat()
        chain: list[Answer] = []
        failures: list[str] = []
        with _client(args.timeout_ms, ctx.connect_guard) as client:
            for url in _start_urls(args.target, args.schemes):
                if not ctx.in_scope(Item("url", url)):
                    ctx.log(f"{url}: not probed: out of scope")
                    failures.append(f"{url}: out of scope")
                    continue
                try:
                    chain = follow(
                        client,
                        url,
                        ctx,
                        max_redirects=args.max_redirects,
                        max_body_bytes=args.max_body_kb * 1024,
                    )
                    break
                except httpx.HTTPError as exc:
                    failures.append(f"{url}: {type(exc).__name__}: {str(exc)[:200]}")
        for line in failures:
            record.warn(line)
        if not chain:
            record.say(f"{args.target}: no HTTP answer")
            result.runs.append(record.finish(failed=True))
            continue
        for position, answer in enumerate(chain):
            record.record(
                {
                    "url": answer.url,
                    **answer.item_attrs(),
                    "elapsed_ms": round(answer.elapsed_ms, 1),
                }
            )
            if answer.url in seen:
                continue
            seen.add(answer.url)
            attrs = answer.item_attrs()
            if position == 0 and len(chain) > 1:
                attrs["redirects"] = [a.url for a in chain[1:]]
            if "://" not in args.target:
                attrs["service"] = args.target
            result.items.append(Item("url", answer.url, attrs))
        final = chain[-1]
        if args.check_headers and not final.location:
            result.findings.extend(
                security_header_findings(
                    tool=TOOL,
                    url=final.url,
                    item=final.url,  # the inventory asset the findings are about
                    status=final.status,
                    headers=final.headers,
                )
            )
        ctx.log(f"{args.target}: " + " -> ".join(f"{a.url} {a.status}" for a in chain))
        result.runs.append(record.finish())
    result.error = step_error(result.runs)
    ctx.progress(len(planned), len(planned))
    return result
