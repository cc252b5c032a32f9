"""subdomains: find the names under a domain (built in, dnspython).

argv: ["builtin:subdomains", "--wordlist", "default|small|none", "--extra", "a,b",
       "--axfr" | "--no-axfr", "--axfr-port", N, "--srv" | "--no-srv", "--permutations", N,
       "--passive" | "--no-passive", "--nameserver", "IP[:port]", "--concurrency", N,
       "--timeout-ms", N, "--", DOMAIN]

For each domain item, in this order:
1. its own records: A/AAAA, NS, MX, SOA (the name servers and mail hosts under it are names too);
2. a zone transfer (AXFR) from each of its name servers that is in scope (a third party's name
   server is not asked), on `axfr_port`; a server that hands the zone out is a finding;
3. wildcard detection: random labels under the domain; when they resolve, a brute-forced name
   whose answers are only the wildcard's is not a name of its own (a finding says so);
4. brute force of the bundled wordlist (scans/tools/wordlists/subdomains.txt, its source and
   licence in SOURCES.md) plus `extra_names`, many queries in flight at once (kit/dns_bulk);
5. SRV records of common services (`_ldap._tcp`, `_sip._udp`, …): their targets;
6. permutations of the labels found (`dev` → `dev1`, `dev-api`, `staging-dev`, …);
7. passive sources (certificate transparency…), when the operator enabled them (kit/passive_dns).

Questions go to `nameserver` (else the system's resolver); only the domain's in-scope name servers
are contacted directly. With the step's connect guard (scans.engine.sandbox.guard), a zone
transfer connects to the address the guard checked for the name server (pinned), and a
`nameserver` the workflow names must be one of the worker's resolvers or an address in scope.
Each found name is checked against scope: in scope, it is emitted as a host item (attrs
`addresses`, `source`); outside (an MX at a mail provider, another domain in a certificate) it
is recorded in the inventory as a lead and never handed on.
"""

from __future__ import annotations

import itertools
import time
from functools import cache
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.query
import dns.rdatatype
import dns.resolver
import dns.zone

from scans.engine.runtime import Command, FindingData, StepContext, StepResult
from scans.engine.sandbox.guard import pinned_address
from scans.tools.dns_resolve import nameserver_refused, parse_nameserver
from scans.tools.kit import fields
from scans.tools.kit.dns_bulk import Answer, is_under, random_label, resolve_many
from scans.tools.kit.options import BuiltinArgs, ConfigField, flag, timeout_field, validate_config
from scans.tools.kit.passive_dns import passive_names, passive_sources_enabled
from scans.tools.kit.records import BuiltinRun, builtin_commands, step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import is_ip_literal
from targets.items import Item

TOOL = "subdomains"
ACCEPTS = {"host"}
EMITS = {"host"}

NODE = Tool(
    type="subdomains",
    label="Subdomain discovery",
    group="Discover",
    icon="globe",
    help="Find names under a domain: wordlist, zone transfer, SRV, permutations, CT logs.",
    order=5,
)
WORDLIST = Path(__file__).resolve().parent / "wordlists" / "subdomains.txt"
WORDLISTS = {"default": 3000, "small": 500, "none": 0}  # how many of the bundled names
SRV_NAMES = (
    "_ldap._tcp", "_kerberos._tcp", "_kerberos._udp", "_kpasswd._tcp", "_gc._tcp",
    "_sip._tcp", "_sip._udp", "_sips._tcp", "_sipfederationtls._tcp", "_xmpp-client._tcp",
    "_xmpp-server._tcp", "_autodiscover._tcp", "_caldav._tcp", "_carddav._tcp", "_imap._tcp",
    "_imaps._tcp", "_submission._tcp", "_pop3._tcp", "_pop3s._tcp", "_smtp._tcp",
    "_http._tcp", "_https._tcp", "_matrix._tcp", "_minecraft._tcp", "_ts3._udp",
    "_vlmcs._tcp", "_h323cs._tcp", "_jabber._tcp", "_ntp._udp", "_mongodb._tcp",
)  # fmt: skip
PERMUTATION_WORDS = ("dev", "test", "staging", "stage", "prod", "qa", "uat", "api", "admin",
                     "internal", "old", "new", "beta", "v2", "backup")  # fmt: skip
WILDCARD_PROBES = 3


@cache
def bundled_names() -> tuple[str, ...]:
    return tuple(line.strip() for line in WORDLIST.read_text().splitlines() if line.strip())


def parse_labels(text: str) -> list[str]:
    """ "dev, intranet" -> ["dev", "intranet"]; each must be a DNS label or dotted labels."""
    labels: list[str] = []
    for raw in str(text).replace("\n", ",").split(","):
        label = raw.strip().lower().strip(".")
        if not label:
            continue
        parts = label.split(".")
        if any(not p or len(p) > 63 or not all(c.isalnum() or c in "-_" for c in p) for p in parts):
            raise ValueError(f"{raw.strip()[:80]!r} is not a DNS label")
        labels.append(label)
    return list(dict.fromkeys(labels))


CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("wordlist", "default", WORDLISTS, "Bundled names to try: default (3000), small (500) or none"),
    fields.text("extra_names", "", 4000, "More labels to try, comma-separated (e.g. intranet, vpn-eu)", parse_labels),
    fields.boolean("zone_transfer", True, "Ask the domain's in-scope name servers for the whole zone (AXFR)"),
    fields.integer("zone_transfer_port", 53, 1, 65535, "Port of the name servers for the zone transfer"),
    fields.boolean("srv_records", True, "Look up SRV records of common services"),
    fields.integer("permutations", 300, 0, 5000, "At most this many variants of the names found (0: none)"),
    fields.boolean("passive", True, "Ask the passive sources the operator enabled (certificate transparency…)"),
    fields.text("nameserver", "", 64, "Ask this resolver (IP or IP:port), else the system's", parse_nameserver),
    fields.concurrency(200, 2000, "Questions in flight at once"),
    fields.request_timeout(2000, 30000, "Timeout of each question (asked up to three times)"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--wordlist", choices=list(WORDLISTS), required=True)
_ARGS.add_argument("--extra", type=parse_labels, default=[])
_ARGS.add_argument("--axfr", action="store_true")
_ARGS.add_argument("--no-axfr", dest="axfr", action="store_false")
_ARGS.add_argument("--axfr-port", type=int, default=53)
_ARGS.add_argument("--srv", action="store_true")
_ARGS.add_argument("--no-srv", dest="srv", action="store_false")
_ARGS.add_argument("--permutations", type=int, default=0)
_ARGS.add_argument("--passive", action="store_true")
_ARGS.add_argument("--no-passive", dest="passive", action="store_false")
_ARGS.add_argument("--nameserver", type=parse_nameserver, default=None)
_ARGS.add_argument("--concurrency", type=int, required=True)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("domain")


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One discovery per domain item (addresses are not domains: skipped)."""
    options = validate_config(config, CONFIG_FIELDS)
    argv = [f"builtin:{TOOL}", "--wordlist", options["wordlist"]]
    extra = parse_labels(options["extra_names"])
    if extra:
        argv += ["--extra", ",".join(extra)]
    argv += [flag("axfr", options["zone_transfer"]), "--axfr-port"]
    argv += [str(options["zone_transfer_port"]), flag("srv", options["srv_records"])]
    argv += ["--permutations", str(options["permutations"]), flag("passive", options["passive"])]
    if options["nameserver"].strip():
        argv += ["--nameserver", options["nameserver"].strip()]
    argv += ["--concurrency", str(options["concurrency"])]
    argv += ["--timeout-ms", str(options["timeout_ms"])]
    return [
        Command([*argv, "--", item.value.rstrip(".").lower()])
        for item in items
        if item.kind == "host" and not is_ip_literal(item.value)
    ]


def system_nameserver() -> tuple[str, int]:
    """The first resolver of /etc/resolv.conf."""
    resolver = dns.resolver.Resolver()
    return str(resolver.nameservers[0]), int(resolver.port)


class Discovery:
    """The names found under one domain, where each came from, and what was asked."""

    def __init__(self, ctx: StepContext, args: Any, record: BuiltinRun) -> None:
        self.ctx, self.args, self.record = ctx, args, record
        self.domain: str = args.domain
        self.server = args.nameserver or system_nameserver()
        self.timeout_s = args.timeout_ms / 1000
        self.found: dict[str, dict[str, Any]] = {}  # name -> attrs
        self.outside: dict[str, dict[str, Any]] = {}  # names not under the domain: leads
        self.wildcard: frozenset[str] = frozenset()
        self.findings: list[FindingData] = []
        self.asked = 0

    def stopped(self) -> bool:
        return self.ctx.is_cancelled()

    def note(self, name: str, source: str, addresses: list[str] | None = None) -> None:
        name = name.rstrip(".").lower()
        if not name or name.startswith("*"):
            return
        target = self.found if is_under(name, self.domain) else self.outside
        attrs = target.setdefault(name, {"source": source})
        if addresses:
            known = attrs.setdefault("addresses", [])
            known.extend(a for a in addresses if a not in known)

    def ask(self, names: list[str], rdtype: str = "A") -> dict[str, Answer]:
        self.asked += len(names)
        last = time.monotonic()

        def progress(_done: int) -> None:
            nonlocal last
            if time.monotonic() - last > 2:
                last = time.monotonic()
                self.ctx.heartbeat()

        return resolve_many(
            names,
            rdtype,
            server=self.server,
            window=self.args.concurrency,
            timeout_s=self.timeout_s,
            should_stop=self.stopped,
            on_progress=progress,
        )

    def is_real(self, answer: Answer) -> bool:
        """Answered, and not only what the wildcard answers."""
        return answer.exists and not (self.wildcard and answer.signature <= self.wildcard)

    # --- the steps ---------------------------------------------------------------------------

    def own_records(self) -> list[str]:
        """The domain's addresses, mail hosts and name servers; the name servers' names."""
        answers = {rdtype: self.ask([self.domain], rdtype)[self.domain] for rdtype in
                   ("A", "AAAA", "NS", "MX", "SOA")}  # fmt: skip
        self.note(self.domain, "target", answers["A"].addresses + answers["AAAA"].addresses)
        for rdtype in ("NS", "MX"):
            for name in answers[rdtype].records.get(rdtype, []):
                self.note(name, rdtype.lower())
        shown = {k: v.records.get(k, []) for k, v in answers.items() if v.records.get(k)}
        self.record.record({"domain": self.domain, "records": shown})
        return answers["NS"].records.get("NS", [])

    def zone_transfer(self, name_servers: list[str]) -> None:
        for ns in name_servers:
            if self.stopped():
                return
            if not self.ctx.in_scope(Item("host", ns)):
                self.record.say(f"axfr: {ns} not asked (name server out of scope)")
                continue
            for address in self._transfer_addresses(ns):
                self._transfer_from(ns, address)

    def _transfer_addresses(self, ns: str) -> list[str]:
        """Where to ask an authorized name server for the zone: with the step's connect guard,
        the one address it checked, its name resolved once with the discovery's resolver
        (pinned: the transfer's connection goes there, whatever a second answer says); without
        one (SCOPE_ENFORCEMENT=off), the first two its name resolves to."""
        if self.ctx.connect_guard is None:
            return self.ask([ns])[ns].addresses[:2]
        try:
            return [
                pinned_address(
                    self.ctx.connect_guard, ns, self.args.axfr_port,
                    lookup=lambda name: self.ask([name])[name].addresses,
                )
            ]  # fmt: skip
        except OSError as exc:  # refused out of scope, or no address
            self.record.say(f"axfr: {ns} not asked: {exc}")
            return []

    def _transfer_from(self, ns: str, address: str) -> None:
        try:
            zone = dns.zone.from_xfr(
                dns.query.xfr(
                    address, self.domain, port=self.args.axfr_port,
                    timeout=self.timeout_s, lifetime=max(10.0, self.timeout_s * 5),
                )
            )  # fmt: skip
        except (dns.exception.DNSException, OSError, EOFError) as exc:
            self.record.say(f"axfr: {ns} ({address}) refused or failed: {type(exc).__name__}")
            return
        names = 0
        origin = zone.origin or dns.name.from_text(self.domain)
        for relative, node in zone.nodes.items():
            name = relative.derelativize(origin).to_text().rstrip(".").lower()
            addresses = [
                str(rdata)
                for rdataset in node.rdatasets
                if rdataset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                for rdata in rdataset
            ]
            self.note(name, "axfr", addresses)
            names += 1
        self.record.say(f"axfr: {ns} ({address}) handed out the zone: {names} names")
        self.findings.append(
            FindingData(
                tool=TOOL,
                severity="medium",
                title=f"DNS zone transfer allowed for {self.domain}",
                rule_id="dns-zone-transfer",
                description=(
                    f"The name server {ns} ({address}) answers AXFR requests for {self.domain} "
                    f"from anyone: the whole zone ({names} names) can be listed."
                ),
                remediation="Allow zone transfers only to the secondary name servers (by key).",
                location=f"{ns}:{self.args.axfr_port}",
                item=self.domain,
                evidence={"name_server": ns, "address": address, "names": names},
                tags=["dns", "misconfiguration"],
            )
        )

    def detect_wildcard(self) -> None:
        probes = [f"{random_label()}.{self.domain}" for _ in range(WILDCARD_PROBES)]
        answers = [a for a in self.ask(probes).values() if a.exists]
        if not answers:
            return
        self.wildcard = frozenset(itertools.chain.from_iterable(a.signature for a in answers))
        shown = ", ".join(sorted(self.wildcard))
        self.record.say(f"wildcard: random names under {self.domain} resolve to {shown}")
        self.findings.append(
            FindingData(
                tool=TOOL,
                severity="info",
                title=f"Wildcard DNS record for *.{self.domain}",
                rule_id="dns-wildcard",
                description=(
                    f"Any name under {self.domain} resolves (to {shown}); names that resolve only "
                    "to these answers were not counted as found."
                ),
                location=f"*.{self.domain}",
                item=self.domain,
                evidence={"answers": sorted(self.wildcard)},
                tags=["dns"],
            )
        )

    def brute_force(self, labels: list[str], source: str) -> int:
        names = [f"{label}.{self.domain}" for label in labels]
        names = [name for name in names if not self.found.get(name, {}).get("addresses")]
        hits = 0
        for name, answer in self.ask(names).items():
            if self.is_real(answer):
                hits += 1
                self.note(name, source, answer.addresses)
                for alias in answer.records.get("CNAME", []):
                    self.note(alias, "cname")
        self.record.say(f"{source}: {hits} of {len(names)} names resolve")
        return hits

    def srv(self) -> None:
        names = [f"{srv}.{self.domain}" for srv in SRV_NAMES]
        for name, answer in self.ask(names, "SRV").items():
            for target in answer.records.get("SRV", []):
                if target:
                    self.note(target, "srv")
                    self.record.say(f"srv: {name} -> {target}")

    def permutations(self, limit: int) -> None:
        labels = sorted(
            {name[: -len(self.domain) - 1] for name in self.found if name != self.domain}
        )
        variants: dict[str, None] = {}
        for label in labels:
            first, _, rest = label.partition(".")
            suffix = f".{rest}" if rest else ""
            stem = first.rstrip("0123456789")
            for candidate in itertools.chain(
                (f"{stem}{n}" for n in range(1, 4)),
                (f"{first}-{word}" for word in PERMUTATION_WORDS),
                (f"{word}-{first}" for word in PERMUTATION_WORDS),
                (f"{word}.{first}" for word in PERMUTATION_WORDS[:4]),
            ):
                variants.setdefault(candidate + suffix)
        chosen = [v for v in variants if f"{v}.{self.domain}" not in self.found][:limit]
        if chosen:
            self.brute_force(chosen, "permutation")

    def passive(self) -> None:
        sources = passive_sources_enabled()
        if not sources:
            self.record.say("passive: no source enabled (SUBDOMAIN_PASSIVE_SOURCES)")
            return
        candidates: dict[str, str] = {}
        for source in sources:
            if self.stopped():
                return
            try:
                names = passive_names(source, self.domain)
            except OSError as exc:
                self.record.warn(str(exc))
                self.ctx.log(f"{self.domain}: passive source {exc}")
                continue
            self.record.say(f"passive: {source.name} knows {len(names)} names")
            for name in names:
                if is_under(name, self.domain):
                    candidates.setdefault(name, source.name)
                else:
                    self.outside.setdefault(name, {"source": source.name})
        fresh = [name for name in candidates if name not in self.found]
        answers = self.ask(fresh)
        for name in fresh:
            answer = answers.get(name)
            if answer is not None and self.is_real(answer):
                self.note(name, candidates[name], answer.addresses)
        gone = sum(1 for name in fresh if name not in self.found)
        if gone:
            self.record.say(f"passive: {gone} names known to the sources no longer resolve")

    def addresses_of_the_rest(self) -> None:
        """Names learned from records (MX, NS, SRV, CNAME) get their addresses too."""
        bare = [name for name, attrs in self.found.items() if not attrs.get("addresses")]
        for name, answer in self.ask(bare).items():
            if answer.addresses:
                self.found[name]["addresses"] = answer.addresses


def discover(ctx: StepContext, args: Any, record: BuiltinRun) -> Discovery:
    """Every step of the discovery for one domain, in order (see the module's docstring)."""
    found = Discovery(ctx, args, record)
    name_servers = found.own_records()
    if args.axfr and not found.stopped():
        found.zone_transfer(name_servers)
    if not found.stopped():
        found.detect_wildcard()
    count = WORDLISTS[args.wordlist]
    labels = list(dict.fromkeys([*bundled_names()[:count], *args.extra]))
    if labels and not found.stopped():
        found.brute_force(labels, "wordlist")
    if args.srv and not found.stopped():
        found.srv()
    if args.permutations and not found.stopped():
        found.permutations(args.permutations)
    if args.passive and not found.stopped():
        found.passive()
    if not found.stopped():
        found.addresses_of_the_rest()
    return found


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    for record, args in builtin_commands(ctx, result, commands(ctx.config, ctx.items), _ARGS):
        started = time.monotonic()
        refused = nameserver_refused(ctx, args.nameserver)
        if refused:
            result.runs.append(record.fail(ctx, refused))
            continue
        try:
            found = discover(ctx, args, record)
        except (dns.exception.DNSException, OSError) as exc:
            result.runs.append(
                record.fail(ctx, f"{args.domain}: {type(exc).__name__}: {str(exc)[:200]}")
            )
            continue
        leads = 0
        for name, attrs in sorted(found.found.items()):
            item = Item("host", name, attrs)
            if ctx.in_scope(item):
                result.items.append(item)
            else:
                result.assets.append(item)
                leads += 1
        for name, attrs in sorted(found.outside.items()):
            result.assets.append(Item("host", name, attrs))
        leads += len(found.outside)
        result.findings.extend(found.findings)
        elapsed = time.monotonic() - started
        summary = (
            f"{args.domain}: {len(found.found) - (leads - len(found.outside))} names in scope, "
            f"{leads} out-of-scope leads, {found.asked} questions in {elapsed:.1f} s"
            + (" (wildcard detected)" if found.wildcard else "")
        )
        record.conclude(ctx, summary)
        result.runs.append(record.finish(cancelled=ctx.is_cancelled()))
    result.error = step_error(result.runs)
    return result
