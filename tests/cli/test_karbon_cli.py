"""The karbon command line: help and its own options (test_daemon_cli has what torus shares)."""
import pytest

from tests.cli.tool_runner import one_line_error, tool


def karbon(*args):
    return tool("karbon", *args, timeout=60)


def test_help_shows_every_option():
    result = karbon("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: karbon [-h] [--tcp TCP] [--udp UDP] [--config CONFIG]")
    text = " ".join(result.stdout.split())  # unwrapped
    assert "Karbon, a Carbon-replacement data collection server" in text
    for option in ("--tcp TCP", "--udp UDP", "--config CONFIG", "--reuse-port", "--dead-letter DIR",
                   "--queue-size MiB", 'Defaults to "localhost:2003"'):
        assert option in text


def test_bad_queue_size():
    one_line_error(karbon("--queue-size", "0", "--config", "x.py"), 2, "is not a whole number of MiB, at least 1")


def test_a_thread_asking_for_the_gil_gets_it_within_half_a_millisecond():
    import sys

    from torus.daemon import SWITCH_INTERVAL, tune_threads
    before = sys.getswitchinterval()
    try:
        tune_threads()  # karbon's SQLite writer thread asks for it after every statement
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        assert SWITCH_INTERVAL < before
    finally:
        sys.setswitchinterval(before)


def test_gc_is_tuned_for_many_short_lived_objects():
    import gc

    from torus.daemon import GC_YOUNG_THRESHOLD, tune_gc
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > before[0]
        assert gc.get_freeze_count() > 0  # what start-up loaded is out of the collector's way
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
