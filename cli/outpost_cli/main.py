"""`outpost`: run Outpost scans from CI and gate the build on their findings.

    outpost scan image nginx:1.25 --wait --fail-on high --format sarif > results.sarif
    outpost scan run --workflow 3 --target app.example.com --wait
    outpost scan results 42 --format table
    outpost import --tool trivy report.json --fail-on critical

Reads OUTPOST_URL and OUTPOST_API_KEY from the environment (the key never goes on the command
line, where `ps` and CI logs would show it). Results go to stdout (or --output), progress to
stderr. Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or a refused request (bad
arguments, key, scope), 3 the scan failed or was cancelled, or Outpost could not be reached or
did not finish in time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from outpost_cli import __version__
from outpost_cli.client import ApiError, OutpostClient, UnsupportedFormat
from outpost_cli.sarif import SEVERITY_ORDER, sarif_from_findings

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_SCAN_FAILED = 3

TERMINAL = {"completed", "failed", "cancelled"}
# Triaged as not a problem: such findings never fail a build.
NOT_GATING = {"false_positive", "accepted", "fixed"}


class Progress:
    """Human progress lines on stderr (stdout is for results, which CI redirects to a file)."""

    def __init__(self, stream: TextIO, *, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"[outpost] {message}", file=self.stream, flush=True)


def _steps_line(scan: dict[str, Any]) -> str:
    total, done = scan.get("steps_total") or 0, scan.get("steps_done") or 0
    return f"{done}/{total} steps" if total else "planning"


def wait_for_scan(
    client: OutpostClient, scan_id: int, *, poll_s: float, timeout_s: float, progress: Progress
) -> dict[str, Any]:
    """Poll the scan until it is completed, failed or cancelled; TimeoutError past `timeout_s`."""
    started = time.monotonic()
    last_line = ""
    last_said = started
    step_states: dict[str, str] = {}
    while True:
        scan = client.scan(scan_id)
        for step in scan.get("steps") or []:
            name, status = str(step.get("node_id")), str(step.get("status"))
            if step_states.get(name) != status:
                step_states[name] = status
                if status not in ("pending", "queued"):
                    extra = (
                        f" in {step['duration_s']} s"
                        if status in TERMINAL and step.get("duration_s") is not None
                        else ""
                    )
                    error = f": {step['error']}" if status == "failed" and step.get("error") else ""
                    progress.say(
                        f"  step {name} ({step.get('node_type', '?')}) {status}{extra}{error}"
                    )
        line = f"scan #{scan_id} {scan.get('status')}: {_steps_line(scan)}"
        now = time.monotonic()
        if line != last_line or now - last_said >= 30:
            progress.say(f"{line} ({now - started:.0f} s)")
            last_line, last_said = line, now
        if scan.get("status") in TERMINAL:
            return scan
        if now - started > timeout_s:
            raise TimeoutError(
                f"scan #{scan_id} still {scan.get('status')} after {timeout_s:.0f} s"
            )
        time.sleep(poll_s)


def gating_counts(findings: list[dict[str, Any]], threshold: str) -> dict[str, int]:
    """Open findings at or above `threshold`, by severity."""
    floor = SEVERITY_ORDER.index(threshold)
    counts: dict[str, int] = {}
    for finding in findings:
        severity = str(finding.get("severity"))
        if finding.get("status") in NOT_GATING or severity not in SEVERITY_ORDER:
            continue
        if SEVERITY_ORDER.index(severity) >= floor:
            counts[severity] = counts.get(severity, 0) + 1
    return counts


def _write(text: str, output: str | None) -> None:
    if output and output != "-":
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def render(
    client: OutpostClient,
    scan: dict[str, Any],
    findings: list[dict[str, Any]],
    fmt: str,
    extra: dict[str, Any],
    progress: Progress,
) -> str:
    if fmt == "table":
        return client.scan_table(int(scan["id"]))
    if fmt == "sarif":
        try:
            log = client.scan_sarif(int(scan["id"]))
        except UnsupportedFormat:
            progress.say("the server has no SARIF export; writing SARIF 2.1.0 from the findings")
            log = sarif_from_findings(findings, scan=scan)
        return json.dumps(log, indent=2)
    return json.dumps({**extra, "scan": scan, "findings": findings}, indent=2)


def finish(
    client: OutpostClient,
    scan_id: int,
    args: argparse.Namespace,
    progress: Progress,
    extra: dict[str, Any] | None = None,
) -> int:
    """Wait if asked, write the results, and turn the outcome into the exit code."""
    if not args.wait:
        scan = client.scan(scan_id)
        if args.format == "json":
            _write(
                json.dumps(
                    {**(extra or {}), "scan_id": scan_id, "status": scan.get("status")}, indent=2
                ),
                args.output,
            )
        else:
            _write(str(scan_id), args.output)
        progress.say(
            f"scan #{scan_id} {scan.get('status')}; `outpost scan results {scan_id} --wait` follows it"
        )
        return EXIT_OK
    scan = wait_for_scan(
        client, scan_id, poll_s=args.poll_interval, timeout_s=args.wait_timeout, progress=progress
    )
    needs_findings = bool(args.fail_on) or args.format != "table"
    findings = list(client.findings(scan_id)) if needs_findings else []
    _write(render(client, scan, findings, args.format, extra or {}, progress), args.output)
    if scan.get("status") != "completed":
        progress.say(f"scan #{scan_id} {scan.get('status')}: {scan.get('error') or 'see its log'}")
        return EXIT_SCAN_FAILED
    counts = scan.get("severity_counts") or {}
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in reversed(SEVERITY_ORDER))
    progress.say(
        f"scan #{scan_id} completed: {scan.get('findings_count', len(findings))} findings ({summary})"
    )
    if args.fail_on and args.fail_on != "none":
        over = gating_counts(findings, args.fail_on)
        if over:
            detail = ", ".join(
                f"{n} {s}"
                for s, n in sorted(over.items(), key=lambda kv: -SEVERITY_ORDER.index(kv[0]))
            )
            progress.say(
                f"FAIL: {sum(over.values())} open findings at or above {args.fail_on} ({detail})"
            )
            return EXIT_FINDINGS
        progress.say(f"ok: no open findings at or above {args.fail_on}")
    return EXIT_OK


# --- commands -----------------------------------------------------------------------------
def cmd_scan_image(client: OutpostClient, args: argparse.Namespace, progress: Progress) -> int:
    accepted = client.submit_image(args.image)
    scan_id = int(accepted["scan_id"])
    progress.say(f"submitted image {args.image}: scan #{scan_id}")
    return finish(client, scan_id, args, progress)


def cmd_scan_run(client: OutpostClient, args: argparse.Namespace, progress: Progress) -> int:
    target_ids = [client.resolve_target(value) for value in args.target]
    scan = client.start_scan(workflow=args.workflow, target_ids=target_ids, dry_run=args.dry_run)
    scan_id = int(scan["id"])
    mode = "dry run" if args.dry_run else "scan"
    progress.say(
        f"started {mode} #{scan_id} of workflow {args.workflow} on targets {', '.join(map(str, target_ids))}"
    )
    return finish(client, scan_id, args, progress)


def cmd_scan_results(client: OutpostClient, args: argparse.Namespace, progress: Progress) -> int:
    args.wait = True  # returns at once for a finished scan
    return finish(client, args.scan_id, args, progress)


def cmd_tools(client: OutpostClient, args: argparse.Namespace, progress: Progress) -> int:
    """List the tools whose reports the server imports (the server's registry is the list)."""
    for tool in client.import_tools():
        formats = ", ".join(f["label"] for f in tool.get("formats", []))
        print(f"{tool['tool']:<12} {tool['label']} ({formats})")
    return EXIT_OK


def cmd_import(client: OutpostClient, args: argparse.Namespace, progress: Progress) -> int:
    path = Path(args.report)
    if not path.is_file():
        progress.say(f"no such report file: {path}")
        return EXIT_USAGE
    known = [tool["tool"] for tool in client.import_tools()]
    if args.tool and args.tool not in known:
        progress.say(f"unknown tool {args.tool!r}; this server imports: {', '.join(known)}")
        return EXIT_USAGE
    summary = client.import_report(
        tool=args.tool or "", path=path, target=args.target or "", label=args.label or ""
    )
    scan_id = int(summary["scan_id"])
    previous = f" vs scan #{summary['previous_scan']}" if summary.get("previous_scan") else ""
    progress.say(
        f"imported {'+'.join(summary.get('tools') or [args.tool or '?'])} report {path.name}: scan #{scan_id}, {summary.get('findings', 0)} findings "
        f"({summary.get('new', 0)} new, {summary.get('still_open', 0)} still open, {summary.get('fixed', 0)} fixed{previous})"
    )
    args.wait = True  # an import is complete when the server answers
    return finish(client, scan_id, args, progress, extra={"import": summary})


# --- arguments ----------------------------------------------------------------------------
def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _results_options(parser: argparse.ArgumentParser, *, can_wait: bool = True) -> None:
    if can_wait:
        parser.add_argument(
            "--wait",
            action="store_true",
            help="wait for the scan to finish (implied by --fail-on and --format sarif)",
        )
    parser.add_argument(
        "--fail-on",
        choices=[*reversed(SEVERITY_ORDER), "none"],
        help="exit 1 when open findings at or above this severity exist",
    )
    parser.add_argument(
        "--format",
        choices=["table", "json", "sarif"],
        default="table",
        help="results on stdout (default: table)",
    )
    parser.add_argument("-o", "--output", help="write results to this file instead of stdout")
    parser.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=2.0,
        metavar="S",
        help="seconds between status checks (default 2)",
    )
    parser.add_argument(
        "--wait-timeout",
        type=_positive_float,
        default=3600.0,
        metavar="S",
        help="give up waiting after S seconds, exit 3 (default 3600)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outpost",
        description="Run Outpost scans from CI. Needs OUTPOST_URL and OUTPOST_API_KEY in the environment.",
        epilog="Exit codes: 0 ok, 1 findings at/above --fail-on, 2 usage or request refused, 3 scan failed/unreachable/timed out.",
    )
    parser.add_argument("--version", action="version", version=f"outpost-cli {__version__}")
    parser.add_argument(
        "--url",
        default=os.environ.get("OUTPOST_URL", ""),
        help="Outpost base URL (default: $OUTPOST_URL)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--http-timeout",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="timeout of one API call",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="start a scan or follow one")
    scan_commands = scan.add_subparsers(dest="scan_command", required=True, metavar="SUBCOMMAND")

    image = scan_commands.add_parser(
        "image", help="scan a container image (an authorized image target)"
    )
    image.add_argument("image", help="image reference, e.g. nginx:1.25")
    _results_options(image)
    image.set_defaults(handler=cmd_scan_image)

    run = scan_commands.add_parser("run", help="run a workflow on authorized targets")
    run.add_argument("--workflow", type=int, required=True, help="workflow id")
    run.add_argument(
        "--target", action="append", required=True, help="target id or value (repeatable)"
    )
    run.add_argument("--dry-run", action="store_true", help="plan and validate only; run nothing")
    _results_options(run)
    run.set_defaults(handler=cmd_scan_run)

    results = scan_commands.add_parser(
        "results", help="wait for an existing scan and show its results"
    )
    results.add_argument("scan_id", type=int)
    _results_options(results, can_wait=False)
    results.set_defaults(handler=cmd_scan_results)

    imp = commands.add_parser(
        "import", help="import a report a tool already wrote (a completed scan)"
    )
    imp.add_argument(
        "--tool",
        default="",
        help="the tool that wrote the report (`outpost tools` lists them); left out, the server "
        "detects it from the file",
    )
    imp.add_argument("report", help="the report file, as the tool wrote it")
    imp.add_argument("--target", help="what the report is about (an image, repo or host)")
    imp.add_argument("--label", help="groups imports for diffs (the API's `workflow` label)")
    _results_options(imp, can_wait=False)
    imp.set_defaults(handler=cmd_import)

    tools = commands.add_parser("tools", help="list the tools whose reports `import` reads")
    tools.set_defaults(handler=cmd_tools)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = Progress(sys.stderr, quiet=args.quiet)
    if getattr(args, "fail_on", None) or getattr(args, "format", "") == "sarif":
        args.wait = True
    api_key = os.environ.get("OUTPOST_API_KEY", "")
    if not args.url or not api_key:
        missing = [
            name
            for name, value in (("OUTPOST_URL", args.url), ("OUTPOST_API_KEY", api_key))
            if not value
        ]
        parser.print_usage(sys.stderr)
        print(f"outpost: error: set {' and '.join(missing)} in the environment", file=sys.stderr)
        return EXIT_USAGE
    client = OutpostClient(args.url, api_key, timeout_s=args.http_timeout)
    try:
        return int(args.handler(client, args, progress))
    except ApiError as exc:
        print(f"outpost: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if 400 <= exc.status < 500 and exc.status != 429 else EXIT_SCAN_FAILED
    except TimeoutError as exc:
        print(f"outpost: error: {exc}", file=sys.stderr)
        return EXIT_SCAN_FAILED
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
