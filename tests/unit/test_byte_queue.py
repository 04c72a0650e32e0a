"""ByteQueue: bounded in bytes, including what producers were granted before reading."""
import gevent
import pytest

from torus.byte_queue import ByteQueue, QueueClosed


def blocked(greenlet):
    gevent.sleep(0.01)
    return not greenlet.dead


def test_put_waits_while_full_and_get_frees_space():
    queue = ByteQueue(10)
    queue.put("a", 6)
    queue.put("b", 4)
    assert queue.full
    third = gevent.spawn(queue.put, "c", 1)
    assert blocked(third)
    assert queue.get_batch(6) == ["a"]
    third.join(1)
    assert third.dead and len(queue) == 2
    assert queue.get_batch(100) == ["b", "c"]
    assert queue.size == 0


def test_get_batch_budget_and_oversize_item():
    queue = ByteQueue(5)
    queue.put("big", 50)  # larger than the bound, accepted into an empty queue
    assert queue.get_batch(1) == ["big"]
    for item in "xyz":
        queue.put(item, 1)
    assert queue.get_batch(2) == ["x", "y"]
    assert queue.get_batch(2, timeout=0) == ["z"]
    assert queue.get_batch(2, timeout=0) == []


def test_charges_count_against_the_bound_and_charged_puts_do_not_wait():
    queue = ByteQueue(10)
    queue.put("a", 4)
    queue.charge(6)                     # a connection about to read 6 bytes
    assert queue.size == 10
    other = gevent.spawn(queue.charge, 6)
    assert blocked(other)               # no room: the other connection does not read
    queue.put("b", 2, charged=True)      # read 6, 2 of them whole lines...
    queue.release(3)                    # ...1 kept as a partial line, 3 never came
    assert queue.size == 4 + 2 + 1 and blocked(other)
    assert queue.get_batch(100) == ["a", "b"]
    other.join(1)
    assert other.dead and queue.size == 1 + 6


def test_with_nothing_queued_a_charge_always_goes_through():
    """Partial lines may hold the whole budget: reading must still make progress."""
    queue = ByteQueue(10)
    queue.charge(10)
    queue.charge(10)
    assert queue.size == 20 and len(queue) == 0


def test_close_drains_then_ends_and_refuses_puts_and_charges():
    queue = ByteQueue(5)
    queue.put("x", 1)
    queue.close()
    with pytest.raises(QueueClosed):
        queue.put("y", 1)
    with pytest.raises(QueueClosed):
        queue.charge(1)
    assert queue.get_batch(10) == ["x"]
    assert queue.get_batch(10) is None


def test_close_wakes_blocked_producers():
    queue = ByteQueue(1)
    queue.put("x", 1)
    waiting = [gevent.spawn(queue.put, "y", 1), gevent.spawn(queue.charge, 1)]
    assert all(blocked(g) for g in waiting) and queue.waiting == 2
    queue.close()
    for greenlet in waiting:
        with pytest.raises(QueueClosed):
            greenlet.get(timeout=1)
