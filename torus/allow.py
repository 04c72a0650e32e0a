"""karbon's ``--allow``: the networks Carbon senders may connect (TCP) or send datagrams (UDP) from.

The Carbon plaintext protocol has no authentication (and statsd cannot send any), so the
sender's address is all there is to go by. Without ``--allow`` every address is served.
An IPv4 sender reaching a dual-stack socket as ``::ffff:a.b.c.d`` is judged by its IPv4
address. Decisions are cached per address (bounded), so a UDP flood from a few senders
costs a dictionary lookup per datagram.
"""
from __future__ import annotations

import argparse
import ipaddress
from typing import Dict, Iterable, List, Sequence, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
#: addresses whose decision is remembered; past this the cache starts again
CACHE_SIZE = 4096


def parse_networks(text: str) -> List[Network]:
    """``--allow``: comma-separated networks (``10.0.0.0/8``) or addresses (``192.0.2.7``)."""
    networks: List[Network] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise argparse.ArgumentTypeError(
                "%r is not a network: use an address (192.0.2.7) or a range (10.0.0.0/8, "
                "2001:db8::/32)" % part) from None
    if not networks:
        raise argparse.ArgumentTypeError("%r names no network" % text)
    return networks


class SourceFilter:
    """Whether a sender's address is in one of the allowed networks."""

    def __init__(self, networks: Iterable[Network]):
        self.networks: Sequence[Network] = tuple(networks)
        self._cache: Dict[str, bool] = {}

    def __str__(self) -> str:
        return ",".join(str(network) for network in self.networks)

    def allows(self, host: str) -> bool:
        decision = self._cache.get(host)
        if decision is None:
            decision = self._decide(host)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[host] = decision
        return decision

    def _decide(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])  # without an IPv6 zone
        except ValueError:  # not an IP address (a Unix socket): nothing to match
            return False
        candidates = [address]
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            candidates.append(mapped)
        return any(candidate in network for candidate in candidates for network in self.networks
                   if candidate.version == network.version)
