"""An authoritative DNS server for the recon tests: Debian's nsd serving CORP_ZONE on 127.0.0.1
and an unprivileged port, with zone transfers allowed to 127.0.0.1 and a wildcard record.
Registered for the whole suite in tests/conftest.py (pytest_plugins)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scanning import _free_port

CORP_DOMAIN = "corp.outpost.test"
# Names a wordlist finds (www, mail, vpn, dev, api), names only the zone transfer hands out
# (zz-build-7f3), an SRV target (dc-ldap-9q), a permutation of a found name (dev-staging), a
# CNAME leaving the domain (partner → a lead) and a wildcard answering 127.0.0.99 for the rest.
CORP_ZONE = """\
$ORIGIN corp.outpost.test.
$TTL 60
@            IN SOA   ns1 hostmaster 2026120201 3600 600 86400 60
@            IN NS    ns1
@            IN A     127.0.0.1
@            IN MX    10 mail
ns1          IN A     127.0.0.1
www          IN A     127.0.0.1
mail         IN A     127.0.0.2
vpn          IN A     127.0.0.3
dev          IN A     127.0.0.4
dev-staging  IN A     127.0.0.5
api          IN CNAME www
zz-build-7f3 IN A     127.0.0.6
dc-ldap-9q   IN A     127.0.0.7
_ldap._tcp   IN SRV   0 0 389 dc-ldap-9q
partner      IN CNAME portal.partner-elsewhere.test.
*            IN A     127.0.0.99
"""
WORDLIST_NAMES = {"www", "mail", "vpn", "dev", "api", "ns1"}
AXFR_ONLY_NAMES = {"zz-build-7f3"}


@dataclass
class AuthoritativeZone:
    domain: str
    port: int

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_nsd(zone_text: str, domain: str, folder: Path, *, port: int = 0) -> tuple[
    subprocess.Popen[bytes], int
]:  # fmt: skip
    """nsd in the foreground serving `zone_text` for `domain` from `folder`; (process, port)."""
    binary = shutil.which("nsd") or "/usr/sbin/nsd"
    if not os.path.exists(binary):
        from tests.conftest import service_unavailable

        service_unavailable("nsd", "Debian's nsd is not installed")
    port = port or _free_port()
    (folder / "zone").write_text(zone_text)
    conf = folder / "nsd.conf"
    conf.write_text(
        f"""server:
    ip-address: 127.0.0.1
    port: {port}
    username: ""
    chroot: ""
    zonesdir: "{folder}"
    database: ""
    zonelistfile: "{folder}/zone.list"
    xfrdfile: "{folder}/xfrd.state"
    xfrdir: "{folder}"
    pidfile: "{folder}/nsd.pid"
    server-count: 1
    verbosity: 1
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "{domain}"
    zonefile: "{folder}/zone"
    provide-xfr: 127.0.0.1 NOKEY
"""
    )
    process = subprocess.Popen(
        [binary, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 1.0
    deadline = time.monotonic() + 15
    while True:
        try:
            resolver.resolve(domain, "SOA")
            return process, port
        except dns.exception.DNSException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"nsd did not answer on port {port}: {error[-800:]}")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def corp_zone() -> Iterator[AuthoritativeZone]:
    folder = Path(tempfile.mkdtemp(prefix="outpost-nsd-"))
    process, port = start_nsd(CORP_ZONE, CORP_DOMAIN, folder)
    yield AuthoritativeZone(domain=CORP_DOMAIN, port=port)
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)
