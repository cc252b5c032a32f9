"""SARIF 2.1.0 from any tool (https://sarifweb.azurewebsites.net): the generic format of static
analysers, dependency checkers and secret scanners. Imported only.

A SARIF log whose runs are all by a tool Outpost knows (Trivy, Grype, Gitleaks, Semgrep…) is
that tool's (its module declares the SARIF of its driver); any other is read here, each finding
named after its run's driver (`tool.driver.name`: "Flawfinder" → `flawfinder`). How results
become findings: scans.tools.kit.sarif. A log with runs and no results is a clean report.
"""

from __future__ import annotations

from scans.tools.kit.detect import json_document
from scans.tools.kit.reports import ParsedReport, bulk_parser
from scans.tools.kit.sarif import is_sarif, sarif_parse
from scans.tools.kit.tool import ReportFormat, Tool


def _is_sarif(data: bytes) -> bool:
    return is_sarif(json_document(data))


NODE = Tool(
    type="sarif",
    label="SARIF (any tool)",
    group="Scan",
    icon="list",
    help="Findings of any tool that writes SARIF 2.1.0.",
    order=90,
    imports_only=True,
    sarif_uri="https://sarifweb.azurewebsites.net",
    formats=(
        ReportFormat(
            name="sarif",
            label="SARIF 2.1.0",
            detect=_is_sarif,
            command="<any tool> --format sarif --output report.sarif",
            generic=True,
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a SARIF 2.1.0 log, named after each run's driver."""
    return sarif_parse(data, subject=subject)
