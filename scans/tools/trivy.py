"""Trivy: vulnerabilities, misconfigurations and secrets in container images and repositories
(https://trivy.dev), in a container.

`trivy image` for image items, `trivy repo` for repo items (Trivy clones it itself), always
`--format json --output /output/trivy-N.json`, targets after `--`. Trivy needs its vulnerability
database: the upstream image downloads it on first use (network `TOOL_NETWORK_TRIVY`) into
`$XDG_CACHE_HOME/trivy`, the tool's cache volume kept between runs (scans.engine.executors.docker);
`skip_db_update` uses the database already there (or one the image carries) without checking
for a newer one.

Reads both report shapes: the legacy top-level list of results (Trivy < 0.20) and
`SchemaVersion` 2 (`{"ArtifactName", "Results": [...]}`), with `Vulnerabilities`,
`Misconfigurations` (only `Status: FAIL`) and `Secrets`.

Severity: CRITICAL/HIGH/MEDIUM/LOW as they are, UNKNOWN → info. Fields: rule_id =
VulnerabilityID (or the misconfiguration/secret rule id), component = PkgName, version =
InstalledVersion, fixed_version = FixedVersion (has_fix when there is one); CVSS v3.x and v4.0
from `CVSS` (the SeveritySource's vectors first, then NVD's), cwe_ids = CweIDs, vuln_ids = the id
and its GHSA alias; secrets get CWE-798. Trivy's JSON carries no EPSS or KEV. Location: the image (or repository) for OS
packages; `<artifact>:<path>` for language packages, misconfigurations and secrets (with
`:line` for the last two), the path normalized. The OS release Trivy names in a target
("(debian 10.8)") is left out so an image rebuilt on a newer point release keeps its findings'
identity. Secrets: Trivy masks them in `Match` (`*****`); a Match without a mask is not kept.
The scanned image (or repository) is recorded in the inventory with its digest and OS.
"""

from __future__ import annotations

import re
from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, cwe_ids, vuln_ids_in
from scans.tools.kit import fields
from scans.tools.kit.arguments import item_argument, item_targets
from scans.tools.kit.cyclonedx import cyclonedx_format
from scans.tools.kit.detect import has_any_key, has_keys, json_document
from scans.tools.kit.invoke import Plan, numbered_plans, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    bulk_parser,
    load_json,
    named_severity,
    normalize_path,
    text,
)
from scans.tools.kit.sarif import sarif_format
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from targets.items import Item

TOOL = "trivy"
ACCEPTS = {"image", "repo"}
EMITS: set[str] = set()


def _is_trivy_json(data: bytes) -> bool:
    document = json_document(data)
    if isinstance(document, dict):
        return "SchemaVersion" in document or has_keys(document, "ArtifactName", "Results")
    return (
        isinstance(document, list)
        and bool(document)
        and has_keys(document[0], "Target")
        and has_any_key(document[0], "Vulnerabilities", "Misconfigurations", "Secrets", "Type")
    )


def _is_trivy_k8s(data: bytes) -> bool:
    document = json_document(data)
    return has_keys(document, "ClusterName") and any(
        isinstance(document.get(key), list)
        for key in ("Resources", "Vulnerabilities", "Misconfigurations")
    )


NODE = Tool(
    type="trivy",
    label="Trivy",
    group="Scan",
    icon="box",
    help="Known vulnerabilities in container images with Trivy, sandboxed.",
    order=10,
    image="aquasec/trivy:0.56.2",
    network="bridge",
    caches_downloads=True,
    sarif_uri="https://github.com/aquasecurity/trivy",
    formats=(
        ReportFormat(
            name="trivy-json",
            label="Trivy JSON",
            detect=_is_trivy_json,
            command="trivy image --format json --output trivy.json IMAGE",
            empty=("null",),
        ),
        ReportFormat(
            name="trivy-k8s",
            label="Trivy Kubernetes JSON",
            detect=_is_trivy_k8s,
            command="trivy k8s --format json --report all --output trivy-k8s.json",
            parse=lambda data, subject="": parse_k8s(data, subject=subject),
        ),
        sarif_format(
            TOOL, "Trivy", command="trivy image --format sarif --output trivy.sarif IMAGE"
        ),
        cyclonedx_format(
            TOOL,
            "Trivy",
            "trivy",
            command="trivy image --format cyclonedx --scanners vuln --output trivy.cdx.json IMAGE",
        ),
    ),
    # Real Trivy needs its vulnerability database from a registry: tests run a stand-in that
    # checks the argv and writes a real Trivy report.
    test_image=TestImage(
        name="outpost-test/trivy-fake:1",
        entrypoint=("/usr/local/bin/trivy",),
        stand_in="tests/data/stand-ins/trivy.sh",
        stand_in_files={"/opt/trivy-fake/report.json": "trivy/scheme_2_many_vulns.json"},
    ),
)
SCANNERS = ["vuln", "vuln,secret", "vuln,secret,misconfig", "secret", "misconfig"]

CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("scanners", "vuln,secret", SCANNERS, "What to look for: vulnerable packages, committed secrets, misconfigurations"),
    fields.boolean("ignore_unfixed", False, "Leave out vulnerabilities that have no fixed version yet"),
    fields.boolean("skip_db_update", False, "Use the database already in the image (offline mirrors) instead of downloading"),
    timeout_field(),
]  # fmt: skip
_OS_RELEASE = re.compile(r"\s*\([^()]*\)\s*$")


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One `trivy image` per image item, one `trivy repo` per repo item."""
    options = validate_config(config, CONFIG_FIELDS)
    targets, refused = item_targets(items, {"image", "repo"}, _mode_and_target)
    flags = ["--ignore-unfixed"] if options["ignore_unfixed"] else []
    flags += ["--skip-db-update"] if options["skip_db_update"] else []

    def argv(target: tuple[str, str], output: str) -> list[str]:
        mode, value = target
        argv = ["trivy", mode, "--quiet", "--format", "json", "--output", output]
        argv += ["--scanners", options["scanners"], "--timeout", f"{options['timeout_s']}s"]
        return [*argv, *flags, "--", value]

    return numbered_plans(TOOL, targets.items(), "json", argv), refused


def _mode_and_target(item: Item) -> tuple[str, str]:
    return item.kind, item_argument(item)  # `trivy image` / `trivy repo`


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a Trivy JSON report (legacy list or SchemaVersion 2)."""
    document = load_json(data, TOOL)
    metadata: dict[str, Any] = {}
    artifact_type = ""
    if isinstance(document, list):
        results, artifact = document, ""
    elif isinstance(document, dict) and ("Results" in document or "SchemaVersion" in document):
        results = as_list(document.get("Results"))
        artifact = str(document.get("ArtifactName") or "")
        artifact_type = str(document.get("ArtifactType") or "")
        found = document.get("Metadata")
        metadata = found if isinstance(found, dict) else {}
    else:
        raise ValueError(
            "not a Trivy report: expected a list of results or a SchemaVersion 2 object"
        )
    if artifact in {".", "./"}:
        artifact = ""  # a filesystem scan of the working directory
    artifact = subject or artifact
    report = ParsedReport()
    for result in results:
        if not isinstance(result, dict):
            raise ValueError("not a Trivy report: a result is not an object")
        report.findings += _result_findings(result, artifact, subject)
    if artifact:
        report.assets.append(_artifact_asset(artifact, artifact_type, metadata))
    return report


@bulk_parser
def parse_k8s(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a `trivy k8s --format json` cluster report: `{ClusterName, Resources: [...]}`
    (Trivy 0.45 and later) or `{ClusterName, Vulnerabilities: [...], Misconfigurations: [...]}`
    (earlier), each resource `{Namespace, Kind, Name, Results}` with the Results of an image
    report. Every finding is located at its resource (`cluster/namespace/kind/name`, then the
    package path or file of the result) and keeps namespace, kind and name in its evidence;
    the workloads' images are recorded in the inventory."""
    document = load_json(data, TOOL)
    if not has_keys(document, "ClusterName"):
        raise ValueError("not a Trivy Kubernetes report: it has no ClusterName")
    cluster = str(document.get("ClusterName") or "")
    resources = [
        resource
        for key in ("Resources", "Vulnerabilities", "Misconfigurations")
        for resource in as_list(document.get(key))
    ]
    report = ParsedReport()
    images: dict[str, Item] = {}
    for resource in resources:
        if not isinstance(resource, dict):
            raise ValueError("not a Trivy Kubernetes report: a resource is not an object")
        place = "/".join(str(resource.get(key) or "-") for key in ("Namespace", "Kind", "Name"))
        where = f"{cluster}/{place}" if cluster else place
        for result in as_list(resource.get("Results")):
            if not isinstance(result, dict):
                raise ValueError("not a Trivy Kubernetes report: a result is not an object")
            image = _OS_RELEASE.sub("", str(result.get("Target") or "")).strip()
            if result.get("Class") in ("os-pkgs", "lang-pkgs") and image:
                images.setdefault(image, Item("image", image))
            for finding in _result_findings(result, where, subject or where):
                finding.evidence.update(
                    {
                        "cluster": cluster,
                        "namespace": str(resource.get("Namespace") or ""),
                        "kind": str(resource.get("Kind") or ""),
                        "name": str(resource.get("Name") or ""),
                    }
                )
                report.findings.append(finding)
    report.assets.extend(images.values())
    return report


def _result_findings(result: dict[str, Any], artifact: str, subject: str) -> list[FindingData]:
    target = str(result.get("Target") or "")
    found = [
        _vulnerability(v, result, artifact, subject) for v in as_list(result.get("Vulnerabilities"))
    ]
    for misconf in as_list(result.get("Misconfigurations")):
        if str(misconf.get("Status") or "FAIL").upper() == "FAIL":
            found.append(_misconfiguration(misconf, target, artifact, subject))
    found += [
        _secret(secret, target, artifact, subject) for secret in as_list(result.get("Secrets"))
    ]
    return found


def _artifact_asset(artifact: str, artifact_type: str, metadata: dict[str, Any]) -> Item:
    """The scanned image (or repository) for the inventory: its digest and OS when Trivy says."""
    if artifact_type == "repository":
        return Item("repo", artifact)
    attrs: dict[str, Any] = {}
    digests = [str(d) for d in as_list(metadata.get("RepoDigests")) if "@" in str(d)]
    if digests:
        attrs["digest"] = digests[0].rpartition("@")[2]
    os_info = metadata.get("OS") if isinstance(metadata.get("OS"), dict) else {}
    if os_info:
        attrs["os"] = " ".join(str(os_info.get(k) or "") for k in ("Family", "Name")).strip()
    if isinstance(metadata.get("Size"), int):
        attrs["size"] = metadata["Size"]
    return Item("image", artifact, attrs)


def _is_os_result(result: dict[str, Any]) -> bool:
    if "Class" in result:
        return result.get("Class") == "os-pkgs"
    # Legacy reports have no Class: OS package results are named "<image or os> (<os> <version>)".
    return bool(_OS_RELEASE.search(str(result.get("Target") or "")))


def _place(artifact: str, path: str, line: object = None) -> str:
    where = normalize_path(path)
    if line:
        where = f"{where}:{line}"
    return f"{artifact}:{where}" if artifact and where else (artifact or where)


def _vulnerability(
    vuln: dict[str, Any], result: dict[str, Any], artifact: str, subject: str
) -> FindingData:
    target = str(result.get("Target") or "")
    package = str(vuln.get("PkgName") or "")
    vuln_id = str(vuln.get("VulnerabilityID") or "")
    fixed = str(vuln.get("FixedVersion") or "")
    if _is_os_result(result):
        location = artifact or _OS_RELEASE.sub("", target)
    else:
        location = _place(artifact, str(vuln.get("PkgPath") or target))
    references = [str(vuln["PrimaryURL"])] if vuln.get("PrimaryURL") else []
    references += [str(r) for r in as_list(vuln.get("References")) if str(r) not in references]
    layer = vuln.get("Layer") or {}
    finding = FindingData(
        tool=TOOL,
        severity=named_severity(vuln.get("Severity")),
        title=text(vuln.get("Title") or f"{vuln_id} in {package}", 500),
        rule_id=vuln_id,
        description=text(vuln.get("Description")),
        remediation=f"Upgrade {package} to {fixed} or later." if fixed else "",
        component=package,
        version=str(vuln.get("InstalledVersion") or ""),
        fixed_version=fixed,
        location=location,
        item=subject or artifact,
        evidence={
            "target": target,
            "class": str(result.get("Class") or ""),
            "type": str(result.get("Type") or ""),
            "pkg_path": str(vuln.get("PkgPath") or ""),
            "severity_source": str(vuln.get("SeveritySource") or ""),
            "cwe": as_list(vuln.get("CweIDs")),
            "cvss": vuln.get("CVSS") or {},
            "layer": str(layer.get("DiffID") or "") if isinstance(layer, dict) else "",
            "published": str(vuln.get("PublishedDate") or ""),
        },
        references=references,
        cwe_ids=cwe_ids(as_list(vuln.get("CweIDs"))),
        # The id and its GitHub advisory (the GHSA alias Trivy links to).
        vuln_ids=vuln_ids_in(
            [vuln_id, *(r for r in references if "github.com/advisories/GHSA-" in r)]
        ),
        has_fix=bool(fixed),
    )
    return cvss_fill(finding, _cvss_vectors(vuln))


def _cvss_vectors(vuln: dict[str, Any]) -> list[Any]:
    """The CVSS vectors of a vulnerability, the source Trivy took its severity from first, then
    NVD, then the others (`CVSS: {source: {V3Vector, V40Vector, …}}`)."""
    by_source = vuln.get("CVSS")
    if not isinstance(by_source, dict):
        return []
    preferred = [str(vuln.get("SeveritySource") or ""), "nvd", "ghsa", "redhat"]
    order = [s for s in preferred if s in by_source] + sorted(
        s for s in by_source if s not in preferred
    )
    vectors: list[Any] = []
    for source in order:
        entry = by_source.get(source)
        if isinstance(entry, dict):
            vectors += [entry.get("V40Vector"), entry.get("V3Vector")]
    return vectors


def _misconfiguration(
    misconf: dict[str, Any], target: str, artifact: str, subject: str
) -> FindingData:
    cause = misconf.get("CauseMetadata") or {}
    line = cause.get("StartLine") if isinstance(cause, dict) else None
    rule = str(misconf.get("AVDID") or misconf.get("ID") or "")
    message = text(misconf.get("Message"))
    description = text(misconf.get("Description"))
    return FindingData(
        tool=TOOL,
        severity=named_severity(misconf.get("Severity")),
        title=text(misconf.get("Title") or rule, 500),
        rule_id=rule,
        description="\n\n".join(filter(None, (description, message))),
        remediation=text(misconf.get("Resolution")),
        location=_place(artifact, target, line),
        item=subject or artifact,
        evidence={"type": str(misconf.get("Type") or ""), "message": message},
        references=[str(r) for r in as_list(misconf.get("References"))],
        tags=["misconfiguration"],
    )


def _secret(secret: dict[str, Any], target: str, artifact: str, subject: str) -> FindingData:
    rule = str(secret.get("RuleID") or "")
    match = str(secret.get("Match") or "")
    return FindingData(
        tool=TOOL,
        severity=named_severity(secret.get("Severity")),
        title=text(f"{secret.get('Title') or rule} in {normalize_path(target)}", 500),
        rule_id=rule,
        description=f"Trivy found what looks like a {secret.get('Title') or rule} "
        f"on line {secret.get('StartLine') or '?'} of {normalize_path(target)}.",
        remediation="Revoke and rotate the secret, and remove it from the image or repository.",
        location=_place(artifact, target, secret.get("StartLine")),
        item=subject or artifact,
        cwe_ids=["CWE-798"],  # use of hard-coded credentials
        evidence={
            "category": str(secret.get("Category") or ""),
            # Trivy masks the secret in Match ("*****"); one without a mask is not kept.
            "match": match if "***" in match else "(redacted)",
        },
        tags=["secret"],
    )


commands, run = planned_runner(TOOL, _plans, parse)
