"""Trivy Operator: the reports Trivy's Kubernetes operator keeps as custom resources
(https://aquasecurity.github.io/trivy-operator), exported with `kubectl get … -o json`. Imported
only.

Reads one resource, a list of them, a `kind: List` (`items`), or a dict of lists keyed by
resource type (`vulnerabilityreports.aquasecurity.github.io: [...]`, as collected by exporters),
of these kinds:
- VulnerabilityReport: `report.vulnerabilities` (vulnerabilityID, resource, installedVersion,
  fixedVersion, severity, score, title, primaryLink, links); the image (`report.artifact` on
  `report.registry`) is the finding's item and is recorded in the inventory;
- ConfigAuditReport, ClusterConfigAuditReport, RbacAssessmentReport,
  ClusterRbacAssessmentReport, InfraAssessmentReport, ClusterInfraAssessmentReport:
  `report.checks` that failed (`success: false`); a check without `checkID` takes its title as
  rule id;
- ExposedSecretReport: the exposed credentials it lists (Trivy masks each in `match`; an
  unmasked match is not kept);
- ClusterComplianceReport: `status.detailReport.results[].checks` that failed (a check without
  severity takes its control's), else `status.summaryReport.controlCheck` with failures.
SbomReports carry no findings. Every finding is located at the workload it is about
(`namespace/kind/name`, from the report's `trivy-operator.resource.*` labels) and keeps
namespace, kind, name and container in its evidence.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import score_or_none, vuln_ids_in
from scans.tools.kit.detect import json_document
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    load_json,
    named_severity,
    text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from targets.items import Item

TOOL = "trivy_operator"
_GROUP = "aquasecurity.github.io"
CHECK_KINDS = {
    "ConfigAuditReport", "ClusterConfigAuditReport", "RbacAssessmentReport",
    "ClusterRbacAssessmentReport", "InfraAssessmentReport", "ClusterInfraAssessmentReport",
}  # fmt: skip


def resources(document: Any) -> list[dict[str, Any]] | None:
    """The operator's resources in a document, or None when it is not made of them."""
    if isinstance(document, dict) and _GROUP in str(document.get("apiVersion") or ""):
        return [document]
    if isinstance(document, dict) and document.get("kind") == "List":
        document = document.get("items")
    elif isinstance(document, dict) and document and all(k.endswith(_GROUP) for k in document):
        document = [r for value in document.values() for r in as_list(value)]
        if not document:
            return []
    if (
        isinstance(document, list)
        and document
        and all(isinstance(r, dict) and _GROUP in str(r.get("apiVersion") or "") for r in document)
    ):
        return document
    return None


def _is_operator_json(data: bytes) -> bool:
    return resources(json_document(data)) is not None


NODE = Tool(
    type=TOOL,
    label="Trivy Operator",
    group="Scan",
    icon="box",
    help="Vulnerability, config audit, secret and compliance reports of Trivy Operator.",
    order=12,
    imports_only=True,
    sarif_uri="https://aquasecurity.github.io/trivy-operator",
    formats=(
        ReportFormat(
            name="trivy-operator-json",
            label="Trivy Operator resources (JSON)",
            detect=_is_operator_json,
            command="kubectl get vulnerabilityreports,configauditreports -A -o json",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from Trivy Operator resources."""
    found = resources(load_json(data, "Trivy Operator"))
    if found is None:
        raise ValueError("not a Trivy Operator report: expected aquasecurity.github.io resources")
    report = ParsedReport()
    for resource in found:
        kind = str(resource.get("kind") or "")
        body = as_dict(resource.get("report"))
        where = _workload(resource)
        if kind == "VulnerabilityReport":
            image = _image(body)
            if image:
                report.assets.append(Item("image", image))
            for vuln in as_list(body.get("vulnerabilities")):
                report.findings.append(_vulnerability(vuln, where, image or subject))
        elif kind in CHECK_KINDS:
            for check in as_list(body.get("checks")):
                if isinstance(check, dict) and check.get("success") is False:
                    report.findings.append(_check(check, where, subject, ""))
        elif kind == "ExposedSecretReport":
            for secret in as_list(body.get("secrets")):
                report.findings.append(_secret(secret, where, _image(body) or subject))
        elif kind == "ClusterComplianceReport":
            report.findings += _compliance(resource, subject)
    return report


def _workload(resource: dict[str, Any]) -> dict[str, str]:
    metadata = as_dict(resource.get("metadata"))
    labels = as_dict(metadata.get("labels"))
    prefix = "trivy-operator.resource."
    where = {
        "namespace": str(labels.get(prefix + "namespace") or metadata.get("namespace") or ""),
        "kind": str(labels.get(prefix + "kind") or ""),
        "name": str(labels.get(prefix + "name") or metadata.get("name") or ""),
        "container": str(labels.get("trivy-operator.container.name") or ""),
    }
    where["place"] = "/".join(filter(None, (where["namespace"], where["kind"], where["name"])))
    if where["container"]:
        where["place"] += f"/{where['container']}"
    return where


def _image(body: dict[str, Any]) -> str:
    artifact = as_dict(body.get("artifact"))
    registry = as_dict(body.get("registry"))
    repository = str(artifact.get("repository") or "")
    if not repository:
        return ""
    server = str(registry.get("server") or "")
    reference = f"{server}/{repository}" if server else repository
    if artifact.get("digest"):
        return f"{reference}@{artifact['digest']}"
    return f"{reference}:{artifact.get('tag') or 'latest'}"


def _evidence(where: dict[str, str], **more: Any) -> dict[str, Any]:
    return {**{k: v for k, v in where.items() if k != "place"}, **more}


def _vulnerability(vuln: Any, where: dict[str, str], item: str) -> FindingData:
    if not isinstance(vuln, dict):
        raise ValueError("not a Trivy Operator report: a vulnerability is not an object")
    vuln_id = str(vuln.get("vulnerabilityID") or "")
    package = str(vuln.get("resource") or "")
    fixed = str(vuln.get("fixedVersion") or "")
    links = [str(vuln.get("primaryLink") or "")] + [
        str(link) for link in as_list(vuln.get("links"))
    ]
    return FindingData(
        tool=TOOL,
        severity=named_severity(vuln.get("severity")),
        title=text(vuln.get("title") or f"{vuln_id} in {package}", 500),
        rule_id=vuln_id,
        description=text(vuln.get("description") or vuln.get("title")),
        remediation=f"Upgrade {package} to {fixed} or later." if fixed else "",
        component=package,
        version=str(vuln.get("installedVersion") or ""),
        fixed_version=fixed,
        location=where["place"] or item,
        item=item,
        evidence=_evidence(where, target=str(vuln.get("target") or "")),
        references=[link for link in links if link],
        vuln_ids=vuln_ids_in([vuln_id]),
        cvss_v3_score=score_or_none(vuln.get("score")),
        has_fix=bool(fixed),
    )


def _check(
    check: dict[str, Any], where: dict[str, str], subject: str, fallback: str
) -> FindingData:
    rule = str(check.get("checkID") or check.get("id") or check.get("title") or "")
    messages = [str(m) for m in as_list(check.get("messages"))]
    target = str(check.get("target") or "")
    return FindingData(
        tool=TOOL,
        severity=named_severity(check.get("severity") or fallback),
        title=text(check.get("title") or rule, 500),
        rule_id=rule,
        description=text(
            "\n\n".join(filter(None, [str(check.get("description") or ""), *messages]))
        ),
        remediation=text(check.get("remediation")),
        location=":".join(filter(None, (where["place"], target))) or subject,
        item=subject,
        evidence=_evidence(where, category=str(check.get("category") or ""), messages=messages),
        tags=["misconfiguration"],
    )


def _secret(secret: Any, where: dict[str, str], item: str) -> FindingData:
    if not isinstance(secret, dict):
        raise ValueError("not a Trivy Operator report: a secret is not an object")
    rule = str(secret.get("ruleID") or "")
    match = str(secret.get("match") or "")
    target = str(secret.get("target") or "")
    return FindingData(
        tool=TOOL,
        severity=named_severity(secret.get("severity")),
        title=text(f"{secret.get('title') or rule} in {target}", 500),
        rule_id=rule,
        description=f"Trivy Operator found what looks like a {secret.get('title') or rule} in {target}.",
        remediation="Revoke and rotate the secret, and remove it from the image.",
        location=f"{where['place']}:{target}" if where["place"] else target,
        item=item,
        evidence=_evidence(
            where,
            category=str(secret.get("category") or ""),
            match=match if "***" in match else "(redacted)",
        ),
        tags=["secret"],
        cwe_ids=["CWE-798"],
    )


def _compliance(resource: dict[str, Any], subject: str) -> list[FindingData]:
    status = as_dict(resource.get("status"))
    detail = as_dict(status.get("detailReport"))
    summary = as_dict(status.get("summaryReport"))
    report_id = str(detail.get("id") or summary.get("id") or "compliance")
    found: list[FindingData] = []
    for result in as_list(detail.get("results")):
        if not isinstance(result, dict):
            continue
        where = {"namespace": "", "kind": "compliance", "name": report_id, "container": "",
                 "place": f"compliance/{report_id}/{result.get('id') or ''}"}  # fmt: skip
        for check in as_list(result.get("checks")):
            if isinstance(check, dict) and check.get("success") is False:
                found.append(_check(check, where, subject, str(result.get("severity") or "")))
    if found or detail:
        return found
    for control in as_list(summary.get("controlCheck")):
        if isinstance(control, dict) and int(control.get("totalFail") or 0) > 0:
            found.append(
                FindingData(
                    tool=TOOL,
                    severity=named_severity(control.get("severity")),
                    title=text(f"{control.get('id')}: {control.get('name')}", 500),
                    rule_id=str(control.get("id") or ""),
                    description=text(
                        f"{control.get('totalFail')} resources fail control {control.get('id')} "
                        f"of {summary.get('title') or report_id}: {control.get('name')}"
                    ),
                    location=f"compliance/{report_id}",
                    item=subject,
                    evidence={"total_fail": control.get("totalFail"), "report": report_id},
                    tags=["compliance"],
                )
            )
    return found
