"""Realistic findings for tests and benchmarks: the shapes the real adapters produce (Trivy/Grype
package CVEs in images, Nuclei template hits on URLs, Gitleaks secrets at file:line, Nmap and the
built-in checks on host:port), deterministic for a seed. A completed scan is made through the
same recording path as the engine (scans.findings.storage.findings_store)."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from django.utils import timezone

from accounts.models import Team, User
from scans.engine.runtime import SEVERITIES, FindingData
from scans.findings.storage import findings_store, scan_counts_refresh
from scans.models import Scan, ScanStatus, ScanStep, StepStatus

PACKAGES = [
    ("openssl", "3.0.11-1", "3.0.13-1"), ("libcurl4", "7.88.1-10", "7.88.1-10+deb12u5"),
    ("zlib1g", "1:1.2.13", "1:1.3.1"), ("libxml2", "2.9.14", "2.9.14+dfsg-1.3"),
    ("glibc", "2.36-9", "2.36-9+deb12u4"), ("nghttp2", "1.52.0-1", "1.52.0-1+deb12u1"),
    ("django", "4.2.1", "4.2.11"), ("requests", "2.28.0", "2.31.0"), ("lodash", "4.17.15", "4.17.21"),
    ("log4j-core", "2.14.1", "2.17.1"), ("pillow", "9.0.0", "10.2.0"), ("busybox", "1.35.0", ""),
]  # fmt: skip
TEMPLATES = [
    ("exposed-git-config", "Git config file exposed", "high"),
    ("http-missing-security-headers", "Missing security headers", "info"),
    ("tls-version", "Deprecated TLS version supported", "medium"),
    ("open-redirect", "Open redirect", "medium"),
    ("CVE-2021-41773", "Apache 2.4.49 path traversal", "critical"),
    ("phpinfo-files", "phpinfo() page exposed", "low"),
]
SECRET_RULES = ["aws-access-token", "github-pat", "generic-api-key", "slack-webhook-url"]
IMAGES = ["nginx:1.25", "python:3.11-slim", "node:20-alpine", "postgres:15", "redis:7"]
HOSTS = [f"10.20.{i // 250}.{i % 250 + 1}" for i in range(400)]
WEIGHTS = {"critical": 4, "high": 14, "medium": 30, "low": 22, "info": 30}
DESCRIPTION = (
    "A flaw in {component} allows a remote attacker to cause memory corruption or bypass "
    "security checks through crafted input. Systems exposing the affected code path to "
    "untrusted data are at risk; see the references for the vendor's analysis."
)


def realistic_findings(n: int, seed: int = 7, *, rules: int | None = None) -> list[FindingData]:
    """`n` distinct findings (distinct fingerprints) with the severity mix of real scans."""
    rng = random.Random(seed)
    severities = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=n)
    out: list[FindingData] = []
    rule_pool = rules or max(1, n // 4)
    for i in range(n):
        severity = severities[i]
        kind = i % 4
        rule_no = rng.randrange(rule_pool)
        if kind == 0:
            name, version, fixed = PACKAGES[rule_no % len(PACKAGES)]
            image = IMAGES[i % len(IMAGES)]
            cve = f"CVE-{2019 + rule_no % 6}-{10000 + rule_no}"
            out.append(FindingData(
                tool="trivy", severity=severity, title=f"{name}: {cve.lower()} memory corruption",
                rule_id=cve, component=name, version=version, fixed_version=fixed,
                location=f"{image} ({name}#{i})", item=image,
                description=DESCRIPTION.format(component=name),
                remediation=f"Upgrade {name} to {fixed} or later." if fixed else "",
                evidence={"PkgName": name, "InstalledVersion": version, "Layer": {"Digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()}},
                references=[f"https://avd.aquasec.com/nvd/{cve.lower()}"],
            ))  # fmt: skip
        elif kind == 1:
            template, title, _ = TEMPLATES[rule_no % len(TEMPLATES)]
            host = HOSTS[i % len(HOSTS)]
            url = f"https://{host}:8443/app{i}/"
            out.append(FindingData(
                tool="nuclei", severity=severity, title=title, rule_id=template, location=url,
                item=f"https://{host}:8443/", description=f"{title} detected by template {template}.",
                remediation="Restrict access to the resource and apply the vendor fix.",
                evidence={"matched-at": url, "extracted-results": ["x-powered-by: PHP/7.4"]},
                references=["https://owasp.org/www-project-top-ten/"],
            ))  # fmt: skip
        elif kind == 2:
            rule = SECRET_RULES[rule_no % len(SECRET_RULES)]
            out.append(FindingData(
                tool="gitleaks", severity=severity, title=f"Secret: {rule}", rule_id=rule,
                location=f"src/config/settings_{i}.py:{rng.randrange(1, 400)}",
                item="https://git.example.test/acme/shop.git",
                description="A credential is committed to the repository history.",
                remediation="Revoke the credential, rotate it, and remove it from history.",
                evidence={"Secret": "REDACTED", "Commit": hashlib.sha256(str(i).encode()).hexdigest()[:40]},
            ))  # fmt: skip
        else:
            host = HOSTS[i % len(HOSTS)]
            port = 1000 + i
            out.append(FindingData(
                tool="nmap", severity=severity, title=f"Open port {port}/tcp (rule {rule_no})",
                rule_id=f"open-port-{rule_no}", location=f"{host}:{port}/tcp", item=host,
                description="A service answers on this port.",
                remediation="Close the port or restrict it to the networks that need it.",
                evidence={"service": "http", "product": "nginx", "version": "1.25.3"},
            ))  # fmt: skip
    return out


def completed_scan(
    *,
    team: Team,
    user: User | None,
    findings: list[FindingData],
    name: str = "Perimeter sweep",
    targets_key: str = "bench-targets",
    **extra: Any,
) -> Scan:
    """A completed scan with one step that recorded `findings` (like an engine run)."""
    now = timezone.now()
    scan = Scan.objects.create(
        team=team, workflow_name=name, targets_key=targets_key, status=ScanStatus.COMPLETED,
        requested_by=user, started_at=now, finished_at=now, has_consent=True,
        target_snapshot=[{"kind": "cidr", "value": "10.20.0.0/22"}, {"kind": "image", "value": "nginx:1.25"}],
        **extra,
    )  # fmt: skip
    step = ScanStep.objects.create(
        scan=scan, node_id="scan", node_type="nuclei", status=StepStatus.COMPLETED, attempt=1,
        executor="docker", started_at=now, finished_at=now, exit_code=0,
        image="projectdiscovery/nuclei:v3.3.5", image_digest="sha256:" + "ab" * 32,
        commands=[{"argv": ["nuclei", "-jsonl", "-silent", "-u", "https://10.20.0.1:8443/"], "image": "projectdiscovery/nuclei:v3.3.5"}],
    )  # fmt: skip
    fps = findings_store(scan=scan, step=step, findings=findings)
    step.findings_count = len(fps)
    step.output_findings = fps
    step.save(update_fields=["findings_count", "output_findings"])
    scan_counts_refresh(scan)
    scan.refresh_from_db()
    return scan


def severity_mix(findings: list[FindingData]) -> dict[str, int]:
    return {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
