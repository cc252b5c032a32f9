"""Passive subdomain sources: public APIs that know names under a domain without anyone asking
the domain's servers (certificate-transparency logs and the like).

Each source is a small plug-in (`PassiveSource`: how to ask, how to read the answer) with its own
timeout and rate limit. All are off until the operator names them in
`SUBDOMAIN_PASSIVE_SOURCES` (they send the domain to a third party); `SUBDOMAIN_PASSIVE_URL_<NAME>`
points one at another base URL (a mirror, a proxy, the tests' local server) and
`SUBDOMAIN_PASSIVE_KEY_<NAME>` gives its API key. The rate limit is kept in the shared cache, so
several workers together stay under it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache

USER_AGENT = "Outpost-subdomains/1.0"


@dataclass(frozen=True)
class PassiveSource:
    """One public API. `request(base_url, domain)` gives the path and query to GET; `names(data)`
    reads the names out of its JSON answer."""

    name: str
    label: str
    base_url: str
    request: Callable[[str], tuple[str, dict[str, str]]]
    names: Callable[[Any], list[str]]
    timeout_s: float = 30.0
    min_interval_s: float = 5.0  # at most one request per this many seconds, across workers
    key_header: str = ""  # the header carrying SUBDOMAIN_PASSIVE_KEY_<NAME>, if it takes one


def _crtsh_names(data: Any) -> list[str]:
    # [{"name_value": "a.example.com\n*.example.com", "common_name": "…", …}, …]
    found: list[str] = []
    for row in data if isinstance(data, list) else []:
        if isinstance(row, dict):
            for key in ("name_value", "common_name"):
                found.extend(str(row.get(key) or "").split("\n"))
    return found


def _certspotter_names(data: Any) -> list[str]:
    # [{"id": "…", "dns_names": ["example.com", "www.example.com"], …}, …]
    found: list[str] = []
    for row in data if isinstance(data, list) else []:
        if isinstance(row, dict) and isinstance(row.get("dns_names"), list):
            found.extend(str(name) for name in row["dns_names"])
    return found


SOURCES: dict[str, PassiveSource] = {
    source.name: source
    for source in (
        PassiveSource(
            name="crtsh",
            label="crt.sh (certificate transparency)",
            base_url="https://crt.sh",
            request=lambda domain: ("/", {"q": f"%.{domain}", "output": "json"}),
            names=_crtsh_names,
            timeout_s=60.0,
            min_interval_s=5.0,
        ),
        PassiveSource(
            name="certspotter",
            label="Cert Spotter (certificate transparency)",
            base_url="https://api.certspotter.com",
            request=lambda domain: (
                "/v1/issuances",
                {"domain": domain, "include_subdomains": "true", "expand": "dns_names"},
            ),
            names=_certspotter_names,
            timeout_s=30.0,
            min_interval_s=1.0,
            key_header="Authorization",
        ),
    )
}


def passive_sources_enabled() -> list[PassiveSource]:
    """The sources the operator turned on, in the order named; unknown names are ignored (the
    settings check names them)."""
    return [SOURCES[name] for name in settings.SUBDOMAIN_PASSIVE_SOURCES if name in SOURCES]


def _wait_for_turn(source: PassiveSource, deadline: float) -> bool:
    """Claim this source's next request slot in the shared cache; False when the slot does not
    come before `deadline`."""
    key = f"passive-dns:{source.name}"
    while True:
        if cache.add(key, 1, timeout=max(1, round(source.min_interval_s))):
            return True
        if time.monotonic() + 0.25 > deadline:
            return False
        time.sleep(0.25)


def passive_names(source: PassiveSource, domain: str) -> list[str]:
    """The names `source` knows under `domain` (lower-case, wildcards' `*.` dropped, not yet
    filtered to the domain). Raises OSError with a reason when the source fails or is busy."""
    deadline = time.monotonic() + source.timeout_s
    if not _wait_for_turn(source, deadline):
        raise OSError(f"{source.name}: rate limit, no request slot within {source.timeout_s} s")
    base = settings.SUBDOMAIN_PASSIVE_URLS.get(source.name) or source.base_url
    path, params = source.request(domain)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    key = settings.SUBDOMAIN_PASSIVE_KEYS.get(source.name, "")
    if key and source.key_header:
        headers[source.key_header] = f"Bearer {key}"
    try:
        with httpx.Client(
            timeout=max(1.0, deadline - time.monotonic()), trust_env=False, follow_redirects=False
        ) as client:
            response = client.get(base.rstrip("/") + path, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise OSError(f"{source.name}: {type(exc).__name__}: {str(exc)[:200]}") from exc
    if response.status_code == 429:
        raise OSError(f"{source.name}: rate limited by the service (HTTP 429)")
    if response.status_code != 200:
        raise OSError(f"{source.name}: HTTP {response.status_code}")
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise OSError(f"{source.name}: the answer is not JSON ({exc})") from exc
    names = (name.strip().lower().rstrip(".") for name in source.names(data))
    return sorted({name.removeprefix("*.") for name in names if name})
