#!/bin/sh
# Outpost's test stand-in for Trivy (no vulnerability database is reachable in tests). It accepts
# the argv shape Outpost's adapter builds, refuses anything else the way Trivy would, and writes
# a real Trivy report (SchemaVersion 2, baked in at build time) to --output.
set -eu
fail() { echo "trivy-fake: $*" >&2; exit 2; }
mode="${1:-}"
[ "$#" -gt 0 ] && shift
case "$mode" in image|fs|filesystem|repo) ;; *) fail "unknown command '$mode'" ;; esac
format=table output="" target=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --format) format="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --scanners|--timeout|--severity) shift 2 ;;
    --quiet|--ignore-unfixed|--skip-db-update|--no-progress) shift ;;
    --) shift; [ "$#" -eq 1 ] || fail "exactly one target after --"; target="$1"; shift ;;
    -*) fail "unknown flag $1" ;;
    *) fail "targets must follow --, got $1" ;;
  esac
done
[ -n "$target" ] || fail "no target"
[ "$format" = json ] || fail "only --format json is supported"
[ -n "$output" ] || fail "--output is required"
cp /opt/trivy-fake/report.json "$output"
echo "trivy-fake: $mode $target -> $output" >&2
