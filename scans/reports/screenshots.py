"""The PDF report's screenshots: a thumbnail of each page the scan's screenshot steps rendered,
with its URL under it.

Where they come from: the output items of the scan's completed `screenshot` steps, each URL item
naming the artifact of its PNG (`attrs.screenshot.artifact`, filled in when the step's files were
stored, scans.findings.storage). Only artifacts of this scan are read (the id is looked up among
the scan's own artifacts, never a path from the item), and only a file that still has the size
and SHA-256 recorded when it was kept and is a PNG: anything else is listed without an image.

Bounded, so the PDF stays quick to render for a scan that took thousands: the first
`SCREENSHOT_LIMIT` URLs (in URL order) get a thumbnail, the rest are counted ("and 212 more",
each one is on the inventory's Screenshot tab). Each thumbnail is a JPEG `THUMB_WIDTH` pixels
wide made with Pillow (weasyprint's own dependency) and inlined as a `data:` URI, the only kind
of URL the report's fetcher accepts: a full 1280x800 PNG would be re-compressed by weasyprint
and weigh several times more in the PDF.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from scans.models import Artifact, Scan, ScanStep
from scans.tools.screenshot import TOOL as SCREENSHOT_NODE

SCREENSHOT_LIMIT = 12
THUMB_WIDTH = 480
# A screenshot is a window (1280x800 or 390x844); a file far larger than one is not read.
MAX_PNG_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Shot:
    url: str
    image: str = ""  # a data: URI, or "" when the file is gone or not a PNG
    note: str = ""


@dataclass
class ReportScreenshots:
    shots: list[Shot] = field(default_factory=list)
    more: int = 0

    @property
    def total(self) -> int:
        return len(self.shots) + self.more


def _urls_and_artifacts(scan: Scan) -> dict[str, int]:
    """{URL: artifact id} from the scan's completed screenshot steps (the last one per URL)."""
    found: dict[str, int] = {}
    steps = ScanStep.objects.filter(
        scan=scan, node_type=SCREENSHOT_NODE, status="completed"
    ).order_by("position", "pk")
    for output in steps.values_list("output_items", flat=True):
        for item in output or []:
            attrs = item.get("attrs") if isinstance(item, dict) else None
            shot = attrs.get("screenshot") if isinstance(attrs, dict) else None
            artifact = shot.get("artifact") if isinstance(shot, dict) else None
            if isinstance(artifact, int) and isinstance(item.get("value"), str):
                found[item["value"]] = artifact
    return found


def _thumbnail(artifact: Artifact) -> tuple[str, str]:
    """(data: URI of a JPEG thumbnail, "") or ("", why there is none)."""
    if artifact.size > MAX_PNG_BYTES:
        return "", "file too large to show"
    try:
        with artifact.open() as handle:
            data = handle.read(MAX_PNG_BYTES + 1)
    except OSError:
        return "", "file no longer stored (artifacts expire)"
    if len(data) != artifact.size or hashlib.sha256(data).hexdigest() != artifact.sha256:
        return "", "file changed since the scan kept it"
    if not data.startswith(PNG_SIGNATURE):
        return "", "not a PNG image"
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.width * image.height > MAX_PIXELS:
                return "", "image too large to show"
            image.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4), Image.Resampling.BILINEAR)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=78, optimize=False)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "", "unreadable PNG"
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii"), ""


def report_screenshots(scan: Scan, limit: int = SCREENSHOT_LIMIT) -> ReportScreenshots:
    """The scan's screenshots for its PDF report: the first `limit` by URL with a thumbnail each,
    and how many more there are."""
    by_url = _urls_and_artifacts(scan)
    urls = sorted(by_url)
    shown = urls[:limit]
    artifacts = Artifact.objects.filter(scan=scan, pk__in=[by_url[u] for u in shown]).in_bulk()
    shots = []
    for url in shown:
        artifact = artifacts.get(by_url[url])
        if artifact is None:
            shots.append(Shot(url, note="not among this scan's files"))
            continue
        image, note = _thumbnail(artifact)
        shots.append(Shot(url, image=image, note=note))
    return ReportScreenshots(shots=shots, more=len(urls) - len(shown))
