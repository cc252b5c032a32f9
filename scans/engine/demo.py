"""Demo mode (the seed's "run a workflow without executing real tools"): a demo scan walks the
real graph on the real workers, step by step like a run, but no tool is executed and nothing
leaves the machine. Each tool node hands on plausible items of the kinds it emits, derived from
what it received (a port scan of a host gives that host's services 80 and 443, a probe gives
their URLs), so the next nodes have work, and a few plausible findings; logic nodes run their
own code on those (it touches nothing; scans.engine.step), without a delay's wait; a report
node renders nothing and alert nodes send nothing.

The synthetic findings of a demo step are listed on the step (its count and its detail) and in
the scan's log, every one marked "[demo]", and stored as demo findings of the scan
(scans.findings.demo): the scan's findings page and API list them with a demo badge, the
logic nodes after the step filter and rewrite them, and nothing the team's real findings feed
(open findings, dashboard, metrics, inventory, notifications, SLA clocks, triage history, scan
diffs) ever counts them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scans.engine.flow import scan_log
from scans.engine.runtime import FindingData
from scans.findings.demo import DEMO_TAG, demo_findings_store
from scans.models import ScanStep
from targets.items import Item
from workflows.nodes import NodeType

# What a node type's demo reports (title, severity, rule id); cycled by the step's items.
_SAMPLES: dict[str, list[tuple[str, str, str]]] = {
    "port_scan": [("Telnet service reachable (23/tcp)", "high", "open-port-telnet")],
    "nmap": [("OpenSSH 7.4 with known vulnerabilities", "medium", "CVE-2018-15473")],
    "http_probe": [("Missing Content-Security-Policy header", "low", "missing-csp")],
    "tls_inspect": [("Certificate expires in 9 days", "medium", "tls-expiring-certificate")],
    "nuclei": [
        ("Exposed .git directory", "high", "git-config-exposure"),
        ("Apache server-status page public", "medium", "apache-server-status"),
    ],
    "trivy": [
        ("xz-utils backdoor (liblzma)", "critical", "CVE-2024-3094"),
        ("OpenSSL X.509 email address buffer overflow", "high", "CVE-2022-3602"),
    ],
    "grype": [("log4j-core remote code execution (Log4Shell)", "critical", "CVE-2021-44228")],
    "gitleaks": [("AWS access key in config/settings.py", "high", "aws-access-token")],
    "secret_scan": [("Slack webhook URL in deploy/notify.sh", "medium", "slack-webhook-url")],
}
_DEFAULT_SAMPLE = [("Service banner discloses its version", "info", "version-disclosure")]
MAX_DEMO_FINDINGS = 5


@dataclass(frozen=True)
class DemoFinding:
    severity: str
    title: str
    rule_id: str
    location: str

    def line(self) -> str:
        return f"[demo] {self.severity.upper()} {self.title} ({self.rule_id}) at {self.location}"

    def as_data(self, tool: str) -> FindingData:
        return FindingData(
            tool=tool, severity=self.severity, title=self.title, rule_id=self.rule_id,
            location=self.location, item=self.location, tags=[DEMO_TAG], evidence={"demo": True},
            description="A synthetic finding of a demo run: no tool ran, nothing was scanned.",
        )  # fmt: skip


def _host_of(item: Item) -> str:
    if item.kind == "host":
        return item.value
    if item.kind == "url":
        return urlsplit(item.value).hostname or item.value
    if item.kind == "service":
        host = item.value.rsplit("/", 1)[0].rsplit(":", 1)[0]
        return host.strip("[]")
    return ""


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def demo_items(node: NodeType, items: list[Item]) -> list[Item]:
    """Plausible items of the kinds `node` emits, derived from its inputs (never invented
    hosts: everything stays on the targets the scan was authorized for)."""
    out: dict[tuple[str, str], Item] = {}
    emits = node.emits

    def add(kind: str, value: str) -> None:
        if kind in emits:
            out.setdefault((kind, value), Item(kind, value, {"demo": True}))

    for item in items:
        host = _host_of(item)
        if item.kind in ("image", "repo"):
            add(item.kind, item.value)
        if host:
            add("host", host)
            for port in (80, 443):
                add("service", f"{_show(host)}:{port}/tcp")
            if item.kind == "url":
                add("url", item.value)
            else:
                add("url", f"https://{_show(host)}/")
    return list(out.values())


def demo_findings(node: NodeType, items: list[Item], node_id: str) -> list[DemoFinding]:
    """A few findings a real run of this node type could report, about its input items."""
    if node.group in ("Logic", "Notify", "Report") or not items:
        return []
    samples = _SAMPLES.get(node.type, _DEFAULT_SAMPLE)
    # Stable per scan step (the same workflow's demo shows the same picture each time).
    start = int(hashlib.sha256(node_id.encode()).hexdigest(), 16) % len(samples)
    found = []
    for index, item in enumerate(items[:MAX_DEMO_FINDINGS]):
        title, severity, rule_id = samples[(start + index) % len(samples)]
        found.append(DemoFinding(severity, title, rule_id, item.value))
    return found


def demo_summary(findings: list[DemoFinding]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def demo_outcome(
    step: ScanStep, node: NodeType, usable: list[Item], input_fingerprints: list[str]
) -> dict[str, Any]:
    """What a demo step of a tool, alert or report node ends with (the engine writes it as the
    step's completed outcome, in the transaction that stores its findings): the items it hands
    on, its synthetic findings stored as demo findings, counted and listed (stdout and the log)."""
    if node.passthrough:
        items = usable  # a report node: what it received goes on
    elif node.group in ("Notify", "Report"):
        items = []
    else:
        items = demo_items(node, usable)
    found = demo_findings(node, usable, step.node_id)
    stored = demo_findings_store(
        scan=step.scan, step=step, findings=[f.as_data(node.type) for f in found]
    )
    lines = [f.line() for f in found]
    if node.group == "Notify":
        lines.append("[demo] nothing sent: demo scans never notify anyone")
    # Read by the engine's run record when the outcome is written.
    step.commands = [{"argv": [f"demo:{node.type}"], "image": ""}]
    step.stdout_tail = "\n".join(lines)
    if lines:
        scan_log(step.scan_id, f"{step.node_id}: " + "; ".join(lines[:5]), step_id=step.pk)
    return {
        "items_out": len(items),
        "output_items": [item.to_dict() for item in items],
        # A report node hands on what reached it, like in a run; a tool node its own findings.
        "output_findings": input_fingerprints if node.passthrough else stored,
        "findings_count": len(stored),
    }
