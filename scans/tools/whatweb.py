"""WhatWeb: web technology fingerprints (https://github.com/urbanadventurer/WhatWeb).

Runs in a container: `whatweb --color=never --no-errors --follow-redirect=never -a LEVEL
--open-timeout N --read-timeout N --log-json=/output/whatweb-N.json -- URL` per URL item
(redirects are not followed: a redirect elsewhere is the engine's to scope-check, as every item).
Severity: the `technologies` finding is always info.

Reads `--log-json` (WhatWeb 0.4.9 to 0.5.x): a list of `{"target", "http_status",
"request_config", "plugins": {name: {"string", "version", "module", …}}}`; `[]` is a clean run.
Every target becomes a `url` item with `status`, `title` (Title), `server` (HTTPServer),
`redirect_to` (RedirectLocation) and `technologies` (every plugin that names software: a
`{"name", "version"}` per plugin, MetaGenerator's "name version" split), so the inventory links
the URL to each technology; and an `info` finding `technologies` listing them, so an import is
not empty and a scan diff shows a new version. Plugins that describe the response rather than
software (Country, IP, Title, headers, cookies…) are kept out of the technologies.
"""

from __future__ import annotations

import re
from typing import Any

from scans.tools.kit import fields
from scans.tools.kit.arguments import item_arguments, url_argument
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.discovery import int_or_none, url_found
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import ParsedReport, bulk_parser, load_json_shaped
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from targets.items import Item

TOOL = "whatweb"
ACCEPTS = {"url"}
EMITS = {"url"}
# Plugins about the response, not software it runs.
_NOT_SOFTWARE = {
    "access-control-allow-methods", "allow", "content-language", "cookies", "country", "email",
    "frame", "html5", "httponly", "httpserver", "ip", "meta-author", "meta-refresh-redirect",
    "metagenerator", "passwordfield", "redirectlocation", "robots_txt", "script",
    "strict-transport-security", "title", "uncommonheaders", "via-proxy", "x-frame-options",
    "x-powered-by", "x-ua-compatible", "x-xss-protection", "open-graph-protocol", "opensearch",
    "object", "google-analytics", "ua-compatible", "probably-wordpress",
}  # fmt: skip
_NAME_VERSION = re.compile(r"^(?P<name>.+?)[ /](?P<version>\d[\w.+-]*)$")


def _is_whatweb_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        isinstance(document, list)
        and bool(document)
        and has_keys(document[0], "target", "plugins")
        and isinstance(document[0]["plugins"], dict)
    )


NODE = Tool(
    type=TOOL,
    label="WhatWeb",
    group="Probe",
    icon="http",
    help="Fingerprint web technologies with WhatWeb, in a sandboxed container.",
    order=60,
    # WhatWeb's authors publish no image: a community build; pin it by digest or point
    # TOOL_IMAGE_WHATWEB at your own.
    image="bberastegui/whatweb:0.5.5",
    network="bridge",
    sarif_uri="https://github.com/urbanadventurer/WhatWeb",
    # Debian's whatweb is a Ruby script: the interpreter (with its libraries), its standard
    # library and native extensions, the gems WhatWeb needs, and /usr/bin/env for the shebang.
    test_image=TestImage(
        name="outpost-test/whatweb:1",
        entrypoint=("/usr/bin/whatweb",),
        binaries=("ruby3.1", "openssl"),
        files=(
            "/usr/bin/env",
            "/usr/bin/ruby",
            "/usr/bin/whatweb",
            "/usr/lib/ruby",
            "/usr/lib/x86_64-linux-gnu/ruby",
            "/usr/share/whatweb",
            "/usr/share/rubygems-integration",
            "/usr/lib/x86_64-linux-gnu/libyaml-0.so.2",
            "/usr/lib/x86_64-linux-gnu/libffi.so.8",
            "/usr/lib/x86_64-linux-gnu/libgmp.so.10",
            "/usr/lib/x86_64-linux-gnu/libz.so.1",
            "/etc/nsswitch.conf",
        ),
    ),
    formats=(
        ReportFormat(
            name="whatweb-json",
            label="WhatWeb JSON (--log-json)",
            detect=_is_whatweb_json,
            command="whatweb --log-json=whatweb.json https://example.com/",
            empty=("[]",),
        ),
    ),
)


CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("aggression", "1", ["1", "3"], "1: one request per URL (stealthy); 3: more requests for versions (aggressive)"),
    fields.integer("request_timeout_s", 15, 1, 120, "Timeout of each connection and read"),
    timeout_field(),
]  # fmt: skip


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One WhatWeb per URL item."""
    options = validate_config(config, CONFIG_FIELDS)
    urls, refused = item_arguments(items, "url", url_argument)
    timeout = str(options["request_timeout_s"])

    def argv(url: str, output: str) -> list[str]:
        argv = ["whatweb", "--color=never", "--no-errors", "--follow-redirect=never"]
        argv += ["-a", options["aggression"], "--open-timeout", timeout, "--read-timeout", timeout]
        return [*argv, f"--log-json={output}", "--", url]

    return numbered_plans(TOOL, own_subjects(urls), "json", argv), refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """URLs and their technologies from a WhatWeb JSON log."""
    document = load_json_shaped(data, TOOL, list, "a list of targets", name="WhatWeb")
    report = ParsedReport()
    for entry in document:
        if not isinstance(entry, dict) or not isinstance(entry.get("plugins"), dict):
            raise ValueError("not a WhatWeb report: a target has no plugins")
        _add(report, entry)
    return report


def _strings(plugin: Any, key: str = "string") -> list[str]:
    values = plugin.get(key) if isinstance(plugin, dict) else None
    return [str(v) for v in values] if isinstance(values, list) else []


def technologies(plugins: dict[str, Any]) -> list[dict[str, str]]:
    """The software a WhatWeb result names: one `{"name", "version"}` per plugin."""
    found: list[dict[str, str]] = []
    for name, plugin in plugins.items():
        if name.lower() in _NOT_SOFTWARE:
            continue
        versions = _strings(plugin, "version")
        found.append({"name": name, "version": versions[0] if versions else ""})
    for generator in _strings(plugins.get("MetaGenerator")):
        match = _NAME_VERSION.match(generator.strip())
        name, version = (match["name"], match["version"]) if match else (generator.strip(), "")
        if name and name.lower() not in {t["name"].lower() for t in found}:
            found.append({"name": name, "version": version})
    return found


def _add(report: ParsedReport, entry: dict[str, Any]) -> None:
    plugins = entry["plugins"]
    software = technologies(plugins)
    shown = ", ".join(" ".join(filter(None, (t["name"], t["version"]))) for t in software)
    titles, servers = _strings(plugins.get("Title")), _strings(plugins.get("HTTPServer"))
    redirects = _strings(plugins.get("RedirectLocation"))
    addresses = _strings(plugins.get("IP"))
    status = int_or_none(entry.get("http_status"))
    found = url_found(
        TOOL,
        entry.get("target"),
        rule_id="technologies",
        title="",
        status=status,
        server=servers[0] if servers else "",
        redirect_to=redirects[0] if redirects else "",
        technologies=software,
    )
    if found is None:
        raise ValueError(f"not a WhatWeb report: {str(entry.get('target'))[:100]!r} is not a URL")
    item, finding = found
    if titles:
        item.attrs["title"] = titles[0][:500]
    finding.title = f"Technologies on {item.value}: {shown or 'none recognised'}"[:500]
    finding.description = (
        f"WhatWeb fingerprinted {item.value} (HTTP {status}): {shown or 'no software named'}."
    )
    finding.evidence = {
        "status": status or "",
        "technologies": software,
        "server": servers[0] if servers else "",
        "title": titles[0][:500] if titles else "",
        "addresses": addresses,
    }
    finding.tags = ["tech"]
    report.items.append(item)
    report.findings.append(finding)


commands, run = planned_runner(TOOL, _plans, parse)
