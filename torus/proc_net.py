"""The kernel's socket tables (Linux ``/proc/net/tcp``, ``udp`` and their IPv6 twins), read
for what no socket option tells: who listens on a port, a UDP socket's drops."""
from __future__ import annotations

from typing import Iterator, List


def socket_rows(protocol: str) -> Iterator[List[str]]:
    """The fields of every socket of ``protocol`` ("tcp" or "udp"), IPv4 then IPv6; none
    where the tables cannot be read (not Linux)."""
    for table in ("/proc/net/%s" % protocol, "/proc/net/%s6" % protocol):
        try:
            with open(table) as handle:
                next(handle, None)  # the header
                lines = handle.readlines()
        except OSError:
            continue
        for line in lines:
            yield line.split()
