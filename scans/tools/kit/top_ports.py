"""The most frequently open TCP ports, most frequent first.

Generated once from Debian's nmap 7.93 `/usr/share/nmap/nmap-services`: the tcp entries sorted by
their open-frequency column (descending, ties by port number), the first 100 and 1000 kept. The same
file is what `nmap --top-ports N` reads, so `top-100`/`top-1000` here cover the ports nmap would.
Shipped as data (`top_ports.txt` beside this module: whitespace-separated, in order) so the
scanner does not depend on nmap being installed.
"""

from __future__ import annotations

from pathlib import Path

_TOP_1000 = (Path(__file__).parent / "top_ports.txt").read_text()
TOP_1000_TCP: tuple[int, ...] = tuple(int(port) for port in _TOP_1000.split())
TOP_100_TCP: tuple[int, ...] = TOP_1000_TCP[:100]
