"""Leases: a retired resource closes once, when its last user is done, never under one."""
import logging

from torus.leases import Leases


class Resource:
    def __init__(self, fail=False):
        self.closes = 0
        self.fail = fail
        self.leases = Leases(self.close)

    def close(self):
        self.closes += 1
        if self.fail:
            raise RuntimeError("cannot close")


def test_an_unused_resource_closes_when_retired():
    resource = Resource()
    resource.leases.retire()
    resource.leases.retire()
    assert resource.closes == 1 and resource.leases.closed


def test_a_retired_resource_closes_after_its_last_user():
    resource = Resource()
    assert resource.leases.acquire() and resource.leases.acquire()
    resource.leases.retire()
    resource.leases.release()
    assert resource.closes == 0  # one user left
    resource.leases.release()
    assert resource.closes == 1
    assert not resource.leases.acquire()  # closed: the caller must use another
    resource.leases.release()
    assert resource.closes == 1


def test_users_come_and_go_without_closing_until_retired():
    resource = Resource()
    for _ in range(3):
        resource.leases.acquire()
        resource.leases.release()
    assert resource.closes == 0 and resource.leases.users == 0


def test_a_failing_close_is_logged_not_raised_to_the_last_user(caplog):
    resource = Resource(fail=True)
    resource.leases.acquire()
    resource.leases.retire()
    with caplog.at_level(logging.ERROR):
        resource.leases.release()
    assert resource.closes == 1 and "closing failed" in caplog.text
