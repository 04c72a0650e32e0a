"""torus.allow: karbon's --allow networks (no sockets)."""
import argparse

import pytest

from torus.allow import SourceFilter, parse_networks


def test_networks_and_addresses_comma_separated():
    networks = parse_networks(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,")
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    assert str(parse_networks("10.1.2.3/8")[0]) == "10.0.0.0/8"  # host bits are forgiven


@pytest.mark.parametrize("text", ["", ",", "10.0.0.300", "10.0.0.0/33", "example.com"])
def test_bad_networks_are_usage_errors(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_networks(text)


@pytest.mark.parametrize("host, expected", [
    ("10.1.2.3", True), ("11.0.0.1", False), ("192.0.2.7", True), ("192.0.2.8", False),
    ("2001:db8::1", True), ("2001:db9::1", False),
    ("::ffff:10.9.9.9", True),        # IPv4 sender on a dual-stack socket
    ("::ffff:11.9.9.9", False),
    ("fe80::1%eth0", False), ("", False), ("not-an-address", False),
])
def test_source_filter(host, expected):
    allow = SourceFilter(parse_networks("10.0.0.0/8,192.0.2.7,2001:db8::/32"))
    assert allow.allows(host) is expected
    assert allow.allows(host) is expected  # cached


def test_link_local_with_a_zone():
    assert SourceFilter(parse_networks("fe80::/10")).allows("fe80::1%eth0")
