"""kairos.registry.redact_url, and the messages that must not show a storage password."""
import pytest

from kairos import ConfigError, Timeseries
from kairos.registry import redact_url
from torus.schema import Schema


@pytest.mark.parametrize("url, shown", [
    ("redis://:hunter2@localhost:6379/15", "redis://:***@localhost:6379/15"),
    ("postgresql://torus:hunter2@db:5432/test", "postgresql://torus:***@db:5432/test"),
    ("mongodb://u:hunter2@h1,h2/db?authSource=admin", "mongodb://u:***@h1,h2/db?authSource=admin"),
    ("mysql://root@h/test", "mysql://root@h/test"),                # a user, no password
    ("sqlite:////tmp/a@b.db", "sqlite:////tmp/a@b.db"),            # '@' in the path only
    ("redis://localhost/0?x=a:b@c", "redis://localhost/0?x=a:b@c"),
    ("not a url", "not a url"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_schema_describe_host_hides_a_redis_password():
    schema = Schema("s", {"type": "count", "host": "redis://:hunter2@localhost:6379/15",
                          "match": "x", "intervals": {"m": {"step": 60}}})
    assert schema.describe_host() == "redis://:***@localhost:6379/15"


@pytest.mark.parametrize("url, fragment", [
    ("sqlite+nodriver:///x.db", "NoSuchModuleError"),
    ("postgresql://u:hunter2@h:notaport/db", "ValueError"),
])
def test_unusable_sql_urls_are_configuration_errors(url, fragment):
    with pytest.raises(ConfigError, match="cannot use SQL URL .*%s" % fragment) as caught:
        Timeseries(url, type="count", intervals={"m": {"step": 60}})
    assert "hunter2" not in str(caught.value)
