"""cassandra:// and cql:// URLs to Cluster options (pure), and the Cluster they build (no connection)."""
import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster
from cassandra.io.geventreactor import GeventConnection
from cassandra.policies import TokenAwarePolicy, WhiteListRoundRobinPolicy

from kairos.backends import cassandra_conn as conn
from kairos.exceptions import ConfigError


@pytest.mark.parametrize("url, points, keyspace", [
    ("cql://", None, None),
    ("cassandra://localhost", ["localhost"], None),
    ("cassandra://localhost:9160", [("localhost", 9160)], None),
    ("cassandra://localhost/database", ["localhost"], "database"),
    ("cassandra://h1,h2:9043/ks", ["h1", ("h2", 9043)], "ks"),
    ("cassandra://h1:9042, h2:9042,h3/KS/", [("h1", 9042), ("h2", 9042), "h3"], "ks"),
    ("cql://[::1]:9044,[fe80::1]/ks", [("::1", 9044), "fe80::1"], "ks"),
])
def test_parse_url_contact_points_and_keyspace(url, points, keyspace):
    parsed = conn.parse_url(url)
    assert (parsed["contact_points"], parsed["keyspace"]) == (points, keyspace)
    assert parsed["username"] is None


def test_parse_url_credentials():
    parsed = conn.parse_url("cassandra://bob:s%40cret@h/ks")
    assert (parsed["username"], parsed["password"], parsed["contact_points"]) == ("bob", "s@cret", ["h"])
    assert conn.parse_url("cassandra://bob@h")["password"] is None


@pytest.mark.parametrize("url, fragment", [
    ("redis://h", "not a Cassandra URL"),
    ("cassandra://h:port", "bad port"),
    ("cassandra://h:0", "bad port"),
    ("cassandra://h:70000", "bad port"),
    ("cassandra://h1,:9042", "empty host"),
    ("cassandra://[::1/ks", "bad IPv6"),
    ("cassandra://h/ks?protocol_version=4", "no query string"),
    ("cassandra://h/my-keyspace", "must start with a letter"),
])
def test_parse_url_errors(url, fragment):
    with pytest.raises(ConfigError, match=fragment):
        conn.parse_url(url)


def test_cluster_options_from_url_and_client_config():
    options, keyspace, auth = conn.cluster_options("cassandra://u:p@h1,h2:9043/ks", {}, True)
    assert options == {"contact_points": ["h1", ("h2", 9043)], "connection_class": "gevent",
                       "execution_profiles": "default"}
    assert (keyspace, auth) == ("ks", ("u", "p"))


def test_client_config_wins_and_keyspace_is_kairos_own():
    options, keyspace, auth = conn.cluster_options(
        "cassandra://h1/url_ks", {"keyspace": "Cfg_KS", "contact_points": ["x"], "port": 9999,
                                  "protocol_version": 4}, False)
    assert keyspace == "cfg_ks"
    assert options == {"contact_points": ["x"], "port": 9999, "protocol_version": 4,
                       "execution_profiles": "default"}
    assert auth is None


def test_no_gevent_and_defaults():
    options, keyspace, _ = conn.cluster_options("cql://", {}, False)
    assert (options, keyspace) == ({}, "kairos")


def test_caller_policies_and_connection_class_are_left_alone():
    marker = object()
    options, _, _ = conn.cluster_options("cassandra://h", {"load_balancing_policy": marker,
                                                           "connection_class": marker}, True)
    assert options == {"contact_points": ["h"], "load_balancing_policy": marker,
                       "connection_class": marker}
    options, _, auth = conn.cluster_options("cassandra://u:p@h", {"auth_provider": marker}, False)
    assert auth is None and options["auth_provider"] is marker


def test_gevent_patched_reflects_the_test_process():
    # tests/conftest.py runs gevent.monkey.patch_all() before anything else
    from kairos.cooperative import sockets_patched
    assert sockets_patched() is True


def test_build_cluster_under_gevent():
    cluster, keyspace = conn.build_cluster("cassandra://u:p@127.0.0.1,127.0.0.2:9043/stats", {})
    try:
        assert isinstance(cluster, Cluster) and keyspace == "stats"
        assert cluster.connection_class is GeventConnection
        assert cluster.contact_points == ["127.0.0.1", ("127.0.0.2", 9043)]
        policy = cluster.profile_manager.profiles[EXEC_PROFILE_DEFAULT].load_balancing_policy
        assert isinstance(policy, TokenAwarePolicy)
        assert isinstance(cluster.auth_provider, PlainTextAuthProvider)
        assert cluster.auth_provider.username == "u"
    finally:
        cluster.shutdown()


def test_build_cluster_legacy_policy_from_client_config():
    policy = WhiteListRoundRobinPolicy(["127.0.0.1"])
    with pytest.warns(DeprecationWarning):          # the driver's word on legacy options
        cluster, _ = conn.build_cluster("cassandra://127.0.0.1", {"load_balancing_policy": policy})
    try:
        assert cluster.load_balancing_policy is policy
    finally:
        cluster.shutdown()


def test_build_cluster_rejects_bad_driver_options():
    with pytest.raises(ConfigError, match="cannot build a Cassandra cluster") as caught:
        conn.build_cluster("cassandra://u:secret@127.0.0.1", {"no_such_option": 1})
    assert "secret" not in str(caught.value)
