#!/bin/sh
# Outpost's test stand-in for nuclei (no template repository is reachable in tests). It accepts
# the argv shape Outpost's adapter builds and writes one JSON Lines result for the `-u` target,
# as nuclei's tech-detect template reports a technology.
set -eu
fail() { echo "nuclei-fake: $*" >&2; exit 2; }
output="" target=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -o) output="$2"; shift 2 ;;
    -u) target="$2"; shift 2 ;;
    -severity|-tags|-rate-limit) shift 2 ;;
    -jsonl|-silent|-no-color|-disable-update-check|-no-interactsh) shift ;;
    *) fail "unknown argument $1" ;;
  esac
done
[ -n "$target" ] || fail "no -u target"
[ -n "$output" ] || fail "-o is required"
case "$target" in *'"'*|*'\'*) fail "unexpected characters in the target" ;; esac
printf '{"template-id":"tech-detect","info":{"name":"Wappalyzer Technology Detection","severity":"info","tags":["tech"]},"matcher-name":"python","type":"http","host":"%s","matched-at":"%s"}\n' "$target" "$target" > "$output"
echo "nuclei-fake: $target -> $output" >&2
