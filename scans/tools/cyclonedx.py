"""CycloneDX BOMs with vulnerabilities (VEX), JSON or XML (https://cyclonedx.org), from any
tool. Imported only.

A BOM written by a tool Outpost knows (Trivy, Grype: `metadata.tools`) is that tool's (its module
declares its CycloneDX); any other is read here, its findings named `cyclonedx`. How
vulnerabilities become findings, and which VEX states are left out: scans.tools.kit.cyclonedx.
A BOM without vulnerabilities (an SBOM) imports as a clean report.
"""

from __future__ import annotations

from scans.tools.kit.cyclonedx import cyclonedx_detector, cyclonedx_parse
from scans.tools.kit.reports import ParsedReport, bulk_parser
from scans.tools.kit.tool import ReportFormat, Tool

NODE = Tool(
    type="cyclonedx",
    label="CycloneDX (any tool)",
    group="Scan",
    icon="box",
    help="Vulnerabilities of any CycloneDX BOM (VEX), JSON or XML.",
    order=91,
    imports_only=True,
    sarif_uri="https://cyclonedx.org",
    formats=(
        ReportFormat(
            name="cyclonedx",
            label="CycloneDX JSON or XML",
            detect=cyclonedx_detector(),
            command="<any tool> --format cyclonedx --output bom.json",
            generic=True,
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a CycloneDX BOM's vulnerabilities."""
    return cyclonedx_parse(data, subject=subject)
