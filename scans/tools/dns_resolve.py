"""dns_resolve: what a host name points to (A, AAAA, CNAME, MX, NS, TXT).

argv: ["builtin:dns_resolve", "--types", "A,AAAA,CNAME,MX,NS,TXT", "--timeout-ms", N,
       ["--nameserver", "IP[:port]"], "--system-resolver" | "--no-system-resolver", "--", HOST]

A and AAAA go through the system resolver (getaddrinfo) when `use_system_resolver` is on, so
/etc/hosts and the operator's resolver setup count like they do for every other tool; the other
types (and A/AAAA when it is off) are asked with dnspython, of `nameserver` when set, else of the
resolvers in /etc/resolv.conf. An IP literal passes through as itself.

Emits host items: the addresses (A/AAAA), CNAME targets, and MX and NS host names, each with
`resolved_from` and `record` attrs. Nothing is contacted but the resolver; the engine checks the
emitted hosts against scope before any later step touches them. A `nameserver` the workflow names
is checked by the step's connect guard like any destination: one of the worker's own resolvers,
or an address in scope (a team's own name server), else the lookup is refused
(scans.engine.sandbox.guard.ConnectGuard.resolver_address). TXT answers (and all the others)
are kept in the step's output and log, not as findings.
"""

from __future__ import annotations

import socket
from typing import Any

import dns.exception
import dns.name
import dns.resolver

from scans.engine.runtime import Command, StepContext, StepResult
from scans.engine.sandbox.guard import ConnectRefused
from scans.tools.kit import fields
from scans.tools.kit.options import BuiltinArgs, ConfigField, flag, timeout_field, validate_config
from scans.tools.kit.records import builtin_commands, step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import is_ip_literal, parse_endpoint
from targets.items import Item

TOOL = "dns_resolve"
ACCEPTS = {"host"}
EMITS = {"host"}

NODE = Tool(
    type="dns_resolve",
    label="DNS resolve",
    group="Discover",
    icon="globe",
    help="Resolve host names to their A/AAAA addresses (and follow CNAMEs in scope).",
    order=10,
)
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT")
TXT_MAX_CHARS = 1000


def parse_record_types(text: str) -> list[str]:
    """The record types named in "A,AAAA,MX" (upper-cased, in order, no duplicates)."""
    chosen: dict[str, None] = {}
    for raw in str(text).split(","):
        name = raw.strip().upper()
        if name not in RECORD_TYPES:
            raise ValueError(
                f"unknown record type {raw.strip()!r} (known: {', '.join(RECORD_TYPES)})"
            )
        chosen[name] = None
    return list(chosen)


def parse_nameserver(text: str) -> tuple[str, int] | None:
    """None for "", else (ip, port) of "IP", "IP:port" or "[v6]:port"; names are refused (a
    resolver named by a name would need a resolver)."""
    text = str(text).strip()
    if not text:
        return None
    if is_ip_literal(text):
        return text, 53
    try:
        host, port = parse_endpoint(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or IP:port") from None
    if not is_ip_literal(host):
        raise ValueError(f"{host!r} is not an IP address")
    return host, port


CONFIG_FIELDS: list[ConfigField] = [
    fields.text("record_types", ",".join(RECORD_TYPES), 100, "Record types to ask for, comma-separated: A, AAAA, CNAME, MX, NS, TXT", parse_record_types),
    fields.request_timeout(3000, 30000, "Timeout of each lookup"),
    fields.text("nameserver", "", 64, "Ask this resolver (IP or IP:port) instead of the system's", parse_nameserver),
    fields.boolean("use_system_resolver", True, "Resolve A/AAAA like the operating system does (/etc/hosts included)"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--types", type=parse_record_types, required=True)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("--nameserver", type=parse_nameserver, default=None)
_ARGS.add_argument("--system-resolver", dest="system_resolver", action="store_true")
_ARGS.add_argument("--no-system-resolver", dest="system_resolver", action="store_false")
_ARGS.add_argument("host")


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One lookup per host item, in input order."""
    options = validate_config(config, CONFIG_FIELDS)
    argv = [
        f"builtin:{TOOL}",
        "--types",
        ",".join(parse_record_types(options["record_types"])),
        "--timeout-ms",
        str(options["timeout_ms"]),
    ]
    if options["nameserver"].strip():
        argv += ["--nameserver", options["nameserver"].strip()]
    argv.append(flag("system-resolver", options["use_system_resolver"]))
    return [Command([*argv, "--", item.value]) for item in items if item.kind == "host"]


def system_addresses(name: str) -> dict[str, list[str]]:
    """A and AAAA answers of the system resolver (one AF_UNSPEC lookup: /etc/hosts answers it
    whole, without a DNS query for the family the hosts file lacks)."""
    answers: dict[str, list[str]] = {"A": [], "AAAA": []}
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return answers
    for family, _type, _proto, _canon, sockaddr in infos:
        record = "AAAA" if family == socket.AF_INET6 else "A"
        address = str(sockaddr[0])
        if address not in answers[record]:
            answers[record].append(address)
    return answers


def _resolver(nameserver: tuple[str, int] | None, timeout_s: float) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    resolver.timeout = timeout_s
    resolver.lifetime = timeout_s
    return resolver


def _text(rdata: Any, record: str) -> str:
    if record == "MX":
        return str(rdata.exchange).rstrip(".").lower()
    if record in {"CNAME", "NS"}:
        return str(rdata.target).rstrip(".").lower()
    if record == "TXT":
        return b"".join(rdata.strings).decode("utf-8", errors="replace")[:TXT_MAX_CHARS]
    return str(rdata)


def lookup(
    name: str,
    record_types: list[str],
    *,
    nameserver: tuple[str, int] | None,
    timeout_s: float,
    system: bool,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(answers by record type, problems by record type) for one name."""
    answers: dict[str, list[str]] = {}
    problems: dict[str, str] = {}
    if system and {"A", "AAAA"} & set(record_types):
        found = system_addresses(name)
        answers.update(
            {record: found[record] for record in ("A", "AAAA") if record in record_types}
        )
    wanted = [record for record in record_types if record not in answers]
    if not wanted:
        return answers, problems
    try:
        resolver = _resolver(nameserver, timeout_s)
    except dns.resolver.NoResolverConfiguration:
        return answers, {record: "no resolver configured" for record in wanted}
    qname = dns.name.from_text(name)
    for record in wanted:
        try:
            answer = resolver.resolve(qname, record, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            answers[record] = []
            problems[record] = "no such name"
            continue
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            problems[record] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        answers[record] = [_text(rdata, record) for rdata in answer.rrset or []]
    return answers, problems


def nameserver_refused(ctx: StepContext, nameserver: tuple[str, int] | None) -> str:
    """Why the step's connect guard refuses the nameserver a workflow names ("" when it does
    not, or there is no guard or no such nameserver). A step with a guard is marked as checked:
    its only connections are to nameservers, and each passes this rule."""
    guard = ctx.connect_guard
    if guard is None:
        return ""
    guard.in_use = True
    if nameserver is None:
        return ""
    try:
        guard.resolver_address(*nameserver)
    except ConnectRefused as exc:
        return f"nameserver {nameserver[0]} refused: {exc}"
    return ""


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    emitted: set[str] = set()

    def emit(value: str, attrs: dict[str, Any]) -> None:
        if value and value not in emitted:
            emitted.add(value)
            result.items.append(Item("host", value, attrs))

    for record, args in builtin_commands(ctx, result, commands(ctx.config, ctx.items), _ARGS):
        ctx.heartbeat()
        host = args.host.strip().rstrip(".").lower()
        refused = nameserver_refused(ctx, args.nameserver)
        if refused:
            result.runs.append(record.fail(ctx, refused))
            continue
        if is_ip_literal(host):
            record.say(f"{host}: an IP address, passed through")
            emit(host, {"resolved_from": host, "record": "literal"})
            result.runs.append(record.finish())
            continue
        try:
            answers, problems = lookup(
                host,
                args.types,
                nameserver=args.nameserver,
                timeout_s=args.timeout_ms / 1000,
                system=args.system_resolver,
            )
        except (dns.exception.DNSException, ValueError) as exc:
            result.runs.append(record.fail(ctx, f"{host}: {type(exc).__name__}: {str(exc)[:200]}"))
            continue
        record.record({"name": host, "answers": answers, "problems": problems})
        for record_type in ("A", "AAAA", "CNAME", "MX", "NS"):
            for value in answers.get(record_type, []):
                emit(value, {"resolved_from": host, "record": record_type})
        shown = "; ".join(f"{rt} {', '.join(values)}" for rt, values in answers.items() if values)
        ctx.log(
            f"{host}: {shown or 'no answers'}" + (f" (problems: {problems})" if problems else "")
        )
        unanswered = [rt for rt in args.types if rt in problems and rt not in answers]
        if unanswered and len(unanswered) == len(args.types):
            result.runs.append(
                record.finish(error=f"{host}: no lookup succeeded: {problems[unanswered[0]]}")
            )
        else:
            result.runs.append(record.finish())
    result.error = step_error(result.runs)
    return result
