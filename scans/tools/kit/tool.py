"""What a tool module declares about its tool: `NODE = Tool(...)`.

A tool is a workflow node type (`workflows.nodes.base.NodeType`: label, group, icon, help, flags)
that also says how it runs and what it reads:

- `image` and `network`: the pinned upstream container image and its Docker network mode
  (`none` where the tool reads only mounted files). Empty `image` = a built-in tool that runs in
  the worker. Operators override both per tool with `TOOL_IMAGE_<TOOL>` / `TOOL_NETWORK_<TOOL>`.
- `formats`: the report files Outpost can import from this tool (`ReportFormat`: name, label,
  parser, how to recognise the document, the command that writes it, its empty forms).
- `imports_only` (from NodeType): a tool whose reports are imported but that Outpost does not
  run (ZAP, Burp, Nessus…): it is not in the palette and a workflow cannot use it.
- `sarif_uri`: the tool's home page for SARIF exports (`informationUri`).
- `caches_downloads`: its vulnerability database is kept between runs in a Docker volume.
- `capabilities`: the Linux capabilities its container is granted on top of `cap_drop=ALL`
  (masscan's raw sockets: `("NET_RAW",)`); every other tool gets none. Only those the Docker
  executor knows are grantable (`GRANTABLE_CAPABILITIES`) are accepted.
- `test_image`: how tests build a small image of it from this machine's binaries
  (`manage.py build_test_images`, since no image registry is reachable in tests).

The module itself stays the runner: `CONFIG_FIELDS`, `ACCEPTS`, `EMITS`, `commands`, `run`,
and its parsers (see `scans.engine.runtime`). Every place that lists tools (the palette, the
import page and API, the exports, the CLI through the API, the test images) reads these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.nodes.base import NodeType


@dataclass(frozen=True)
class ReportFormat:
    """One kind of report file a tool writes that Outpost imports.

    `detect(data)` says whether a document is of this format; it looks at the document's shape
    only (root element, required keys), never at its findings. `parse(data, subject=...)` returns
    a `ParsedReport` or raises ValueError with a reason a person understands; left out, it is the
    tool module's own `parse`."""

    name: str  # stable id, e.g. "nmap-xml"
    label: str  # shown to people, e.g. "Nmap XML (-oX)"
    detect: Callable[[bytes], bool]
    command: str = ""  # a command line that writes such a report (the import page's hint)
    parse: Callable[..., Any] | None = None
    # The empty documents this format really writes when the tool found nothing: "blank" (an
    # empty file: JSON Lines, text), "null", "[]", "{}". Only these import as a clean scan; an
    # empty document of another shape is refused (it is not this tool's clean report).
    empty: tuple[str, ...] = ()
    # A format any tool writes (SARIF, CycloneDX): detection prefers a tool's own format of the
    # same document (Trivy's SARIF is Trivy's) and offers the generic one only when none claims it.
    generic: bool = False


@dataclass(frozen=True)
class TestImage:
    """A test stand-in image built from this machine's files (no registry in tests).

    `binaries` are host executables copied with every library `ldd` names; `files` are host
    files or folders copied as they are (data, NSE scripts); `libraries` are host shared
    libraries a binary opens with dlopen() (masscan's libpcap), which `ldd` of the binary does not
    name: copied with the libraries `ldd` names for them; `stand_in` is a script of the
    repository installed as the entrypoint instead of a real binary (a tool whose real run needs
    the internet), with `stand_in_files` (image path -> file under the shared scanner outputs)
    baked in beside it."""

    name: str
    entrypoint: tuple[str, ...]
    binaries: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    stand_in: str = ""
    stand_in_files: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Tool(NodeType):
    """A node type that runs a tool (built in or in a container) and may read its reports."""

    image: str = ""
    network: str = "none"
    caches_downloads: bool = False
    capabilities: tuple[str, ...] = ()
    sarif_uri: str = ""
    formats: tuple[ReportFormat, ...] = ()
    test_image: TestImage | None = None

    @property
    def is_builtin(self) -> bool:
        return not self.image

    @property
    def is_importable(self) -> bool:
        return bool(self.formats)
