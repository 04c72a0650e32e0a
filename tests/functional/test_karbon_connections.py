"""karbon's connections under pressure: shutdown drain, memory bound, idle and capped clients, UDP.

Storage is stalled for real (a private redis-server paused with SIGSTOP), clients
are real sockets.
"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time

import gevent
import pytest

from tests.functional.test_karbon import BASE_TS, DEADLINE, KARBON, send, wait_until
from tests.functional.test_karbon_integrity import count_config, counters_of, replay
from tests.redis_cluster import alive
from torus.config import Configuration
from torus.proc_net import socket_rows


def hour_total(counts, name):
    return counts.get(name, "hour", timestamp=BASE_TS)[BASE_TS - BASE_TS % 3600]


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS for %d" % pid)


class Sender:
    """A client sending ``c.a 1 BASE_TS`` lines on one connection in ``rounds`` writes of
    ``lines`` lines, ``pause`` seconds apart, then closing."""

    def __init__(self, port, rounds, lines=2000, pause=0.1):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.sent = 0
        self.rounds, self.lines, self.pause = rounds, lines, pause
        self.greenlet = gevent.spawn(self._run)

    def _run(self):
        line = b"c.a 1 %d\n" % BASE_TS
        for _ in range(self.rounds):
            self.sock.sendall(line * self.lines)
            self.sent += self.lines
            gevent.sleep(self.pause)
        self.sock.shutdown(socket.SHUT_WR)
        self.sock.recv(1)  # karbon closes once it read everything
        self.sock.close()


def test_sigterm_under_back_pressure_reads_and_keeps_everything_sent(
        tmp_path, start_karbon, redis_server, unique_name):
    letters = tmp_path / "letters"
    karbon = start_karbon(count_config(redis_server.url, unique_name, timeout=1.0), "--queue-size", "1",
                          "--dead-letter", str(letters), "--drain-timeout", "30",
                          "--retry-delays", "0.5,0.5")
    redis_server.pause()  # storage stalls: the queue fills, karbon stops reading its sockets
    senders = [Sender(karbon.port, rounds=40) for _ in range(4)]  # for 4 s or more
    gevent.sleep(1.0)
    karbon.signal(15)  # SIGTERM while clients still send, and karbon cannot store
    gevent.sleep(1.5)
    assert all(not s.greenlet.dead for s in senders)
    redis_server.resume()
    gevent.joinall([s.greenlet for s in senders], raise_error=True, timeout=DEADLINE)
    assert karbon.proc.wait(DEADLINE) == 0
    sent = sum(s.sent for s in senders)
    if letters.exists():  # what karbon could not store before it stopped
        result = replay(karbon.config, letters)
        assert result.returncode == 0, result.stdout + result.stderr
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    assert hour_total(counts, "c.a") == sent == 4 * 40 * 2000
    assert hour_total(counts, "c.all") == sent
    assert counters_of(karbon)["lines"] == sent


@pytest.fixture
def many_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 20000)
    if wanted < 9000:
        pytest.skip("needs 9,000 open files (ulimit -n is %d)" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # karbon inherits it
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


#: what docs/karbon.rst states for 4,000 stalled connections: 150 MiB + --queue-size (8 here)
STALLED_RSS_BOUND = 150 + 8


def test_four_thousand_stalled_connections_stay_within_the_stated_memory(
        tmp_path, start_karbon, redis_server, unique_name, many_files):
    karbon = start_karbon(count_config(redis_server.url, unique_name, timeout=30), "--queue-size", "8")
    redis_server.pause()
    payload = (b"c.a 1 %d\n" % BASE_TS) * 6000  # 108 KB per connection, 430 MB in all
    socks = []
    try:
        for _ in range(4000):
            sock = socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE)
            sock.setblocking(False)
            try:
                sock.send(payload)  # as much as the kernel takes; the rest is never needed
            except BlockingIOError:
                pass
            socks.append(sock)
        gevent.sleep(3)  # karbon reads what its budget allows, then waits
        peak = rss_mib(karbon.proc.pid)
        print("karbon RSS with 4,000 stalled connections: %.0f MiB" % peak)
        assert peak < STALLED_RSS_BOUND, "karbon holds %.0f MiB" % peak
    finally:
        karbon.kill()  # storing the 400 MB the clients offered is not this test's business
        for sock in socks:
            sock.close()


def test_an_idle_connection_is_closed_and_what_it_sent_is_kept(tmp_path, start_karbon, redis_server,
                                                              unique_name):
    karbon = start_karbon(count_config(redis_server.url, unique_name), "--idle-timeout", "1")
    with socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE) as sock:
        sock.sendall(b"c.a 2 %d\nc.a 3 %d" % (BASE_TS, BASE_TS))  # the last line unfinished
        started = time.monotonic()
        assert sock.recv(1) == b""  # karbon closed it
        assert 0.8 < time.monotonic() - started < 10
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    wait_until(lambda: hour_total(counts, "c.a") == 2, "the finished line to be stored")
    assert karbon.stop() == 0
    found = counters_of(karbon)
    assert found["idle_closed"] == 1 and found["lines"] == 1
    assert "nothing received for 1 s, closed" in karbon.output()
    assert "16 bytes of an unfinished line, dropped" in karbon.output()


def test_at_the_connection_cap_a_new_client_is_served_and_the_longest_idle_goes(
        tmp_path, start_karbon, redis_server, unique_name):
    karbon = start_karbon(count_config(redis_server.url, unique_name), "--max-connections", "5")
    idle = []
    for number in range(5):
        sock = socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE)
        sock.sendall(b"c.a 1 %d\n" % BASE_TS)
        idle.append(sock)
        gevent.sleep(0.2)  # the first is the longest idle
    send(karbon.port, b"c.b 7 %d\n" % BASE_TS)  # a sixth client
    assert idle[0].recv(1) == b""  # closed to make room
    for sock in idle[1:]:
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1)  # still open
        sock.close()
    idle[0].close()
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    wait_until(lambda: hour_total(counts, "c.b") == 7, "the new client's point")
    wait_until(lambda: hour_total(counts, "c.a") == 5, "the idle clients' points")
    assert karbon.stop() == 0
    assert counters_of(karbon)["evicted"] == 1


def test_udp_drops_are_counted_exactly(tmp_path, start_karbon, redis_server, unique_name):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    karbon = start_karbon(count_config(redis_server.url, unique_name, timeout=30), "--queue-size", "1",
                          "--udp", "127.0.0.1:%d" % port, "--udp-buffer", "64")
    karbon.wait_for(r"udp 127\.0\.0\.1:%d" % port)
    redis_server.pause()  # karbon fills its queue, stops reading: the kernel buffer fills, then drops
    datagram = b"".join(b"c.a 1 %d\n" % BASE_TS for _ in range(100))  # 1.7 KB, 100 lines
    sent = 3000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(sent):
            sock.sendto(datagram, ("127.0.0.1", port))
        redis_server.resume()
        gevent.sleep(2)
        sock.sendto(b"c.z 1 %d\n" % BASE_TS, ("127.0.0.1", port))  # carries the final drop count
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    wait_until(lambda: hour_total(counts, "c.z") == 1, "the last datagram")
    assert karbon.stop() == 0
    found = counters_of(karbon)
    received = hour_total(counts, "c.a") // 100
    assert found["udp_dropped"] > 0
    assert received + found["udp_dropped"] == sent
    assert "the kernel dropped" in karbon.output()


def _udp_karbon(start_karbon, redis_server, unique_name, *args, timeout=30):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    karbon = start_karbon(count_config(redis_server.url, unique_name, timeout=timeout),
                          "--queue-size", "1", "--udp", "127.0.0.1:%d" % port, "--udp-buffer", "64",
                          *args)
    karbon.wait_for(r"udp 127\.0\.0\.1:%d" % port)
    return karbon, port


#: a datagram of 100 lines (1.7 KB): 3,000 of them hold 300,000 points, 5 MB
DATAGRAM = b"".join(b"c.a 1 %d\n" % BASE_TS for _ in range(100))


def _burst(port, datagrams, pause=0.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(datagrams):
            sock.sendto(DATAGRAM, ("127.0.0.1", port))
            if number % 10 == 0:
                gevent.sleep(pause)


def test_a_stop_stores_the_datagrams_already_in_the_buffer(tmp_path, start_karbon, redis_server,
                                                           unique_name):
    """Every datagram the kernel accepted is stored, or counted as dropped: none vanishes."""
    karbon, port = _udp_karbon(start_karbon, redis_server, unique_name, "--drain-timeout", "30")
    redis_server.pause()
    sent = 3000
    _burst(port, sent)
    karbon.signal(15)  # while storage stalls and the buffer is full
    gevent.sleep(2)
    redis_server.resume()
    assert karbon.proc.wait(DEADLINE) == 0
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    found = counters_of(karbon)
    assert found["udp_unread"] == 0 and found["failed"] == 0
    assert hour_total(counts, "c.a") // 100 + found["udp_dropped"] == sent


def test_a_stop_past_its_deadline_says_what_it_could_not_store(tmp_path, start_karbon, redis_server,
                                                              unique_name):
    letters = tmp_path / "letters"
    karbon, port = _udp_karbon(start_karbon, redis_server, unique_name, "--drain-timeout", "1",
                               "--dead-letter", str(letters), "--retry-delays", "", timeout=5)
    redis_server.pause()
    sent = 6000  # 10 MB, at a pace karbon reads: it fills the queue, the planner and the writers,
    _burst(port, sent, pause=0.002)  # then the receive buffer, then the kernel drops the rest
    started = time.monotonic()
    karbon.signal(15)  # storage never answers before the deadline
    assert karbon.proc.wait(DEADLINE) == 0
    stopped_in = time.monotonic() - started
    redis_server.resume()
    found = counters_of(karbon)
    assert found["udp_unread"] > 0 and "were not stored: the drain deadline passed" in karbon.output()
    replay(karbon.config, letters)
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    assert hour_total(counts, "c.a") // 100 + found["udp_dropped"] + found["udp_unread"] == sent
    assert stopped_in < 1 + 5 + 5  # the deadline, one storage timeout, the dead-lettering


def test_a_stop_with_storage_stalled_ends_near_its_deadline(tmp_path, start_karbon, redis_server,
                                                           unique_name):
    """Each queued batch used to wait for its own storage timeout: minutes for a full queue."""
    letters = tmp_path / "letters"
    karbon = start_karbon(count_config(redis_server.url, unique_name, timeout=2), "--queue-size", "4",
                          "--drain-timeout", "1", "--dead-letter", str(letters))
    redis_server.pause()
    sent = 0
    with socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE) as sock:
        sock.setblocking(False)
        chunk = (b"c.a 1 %d\n" % BASE_TS) * 20000
        try:
            for _ in range(50):
                sock.send(chunk)  # raises once karbon stops reading (its queue is full)
                sent += 20000
        except BlockingIOError:
            pass
        gevent.sleep(1)
        started = time.monotonic()
        karbon.signal(15)
        assert karbon.proc.wait(DEADLINE) == 0
    assert time.monotonic() - started < 1 + 2 + 5  # deadline + one timeout + dead-lettering
    redis_server.resume()
    assert counters_of(karbon)["failed"] > 0


def test_at_sigterm_a_line_sent_just_before_is_not_lost(tmp_path, start_karbon, unique_name,
                                                       many_files):
    """Connections quiet for a while send a last line and close as karbon stops: all stored
    (the drain closed quiet connections whose last line was already waiting to be read)."""
    config = ("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',"
              " 'intervals': {'hour': {'step': 3600}}}}\nDEBUG = 1\n" % (tmp_path / "d.db"))
    karbon = start_karbon(config)
    socks = [socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE)
             for _ in range(4000)]
    for sock in socks:
        sock.sendall(b"c.x 1 %d\n" % BASE_TS)
    gevent.sleep(2)  # every connection now quiet for more than the drain's second
    for sock in socks:
        sock.sendall(b"c.y 1 %d\n" % BASE_TS)
        sock.close()
    karbon.signal(15)
    assert karbon.proc.wait(DEADLINE) == 0
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    summary = karbon.wait_for(r"stopped: (.*)").group(1)
    assert hour_total(counts, "c.x") == hour_total(counts, "c.y") == 4000, summary


def test_workers_share_the_port_and_the_parent_supervises_them(tmp_path, start_karbon, unique_name):
    config = ("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',"
              " 'intervals': {'hour': {'step': 3600}}}}\nDEBUG = 1\n" % (tmp_path / "w.db"))
    karbon = start_karbon(config, "--workers", "2")
    pids = [int(pid) for pid in karbon.wait_for(r"with 2 workers \(pids (\d+), (\d+)\)").groups()]
    for _ in range(40):  # connections spread over both workers
        send(karbon.port, b"c.a 1 %d\n" % BASE_TS)
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    wait_until(lambda: hour_total(counts, "c.a") == 40, "the points of both workers")

    karbon.signal(1)  # SIGHUP: every worker reloads
    wait_until(lambda: karbon.output().count("configuration reloaded (generation 2") == 2,
               "both workers to reload")
    os.kill(pids[0], 9)  # a worker dies: the parent starts another
    restarted = karbon.wait_for(r"worker 0 \(pid %d\) exited with -9" % pids[0])
    wait_until(lambda: karbon.output().count("listening on tcp") == 4, "the new worker")
    for _ in range(10):
        send(karbon.port, b"c.a 1 %d\n" % BASE_TS)
    wait_until(lambda: hour_total(counts, "c.a") == 50, "the points after the restart")
    assert restarted and karbon.stop() == 0
    totals = [int(n) for n in re.findall(r"stopped: lines=(\d+)", karbon.output())]
    assert len(totals) == 2 and all(totals)  # two live workers stopped, each had points


def test_a_sighup_while_the_workers_start_is_passed_on_once_they_listen(tmp_path):
    """A reload asked while the workers are still starting (before their SIGHUP handler is
    installed, SIGHUP's default action would end them, and the parent stopped everything)
    reaches each worker once it listens."""
    config = tmp_path / "conf.py"
    config.write_text("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', "
                      "'match': r'^c\\.', 'intervals': {'hour': {'step': 3600}}}}\nDEBUG = 1\n"
                      % (tmp_path / "w.db"))
    log = tmp_path / "karbon.log"
    proc = subprocess.Popen([sys.executable, KARBON, "--tcp", "127.0.0.1:0", "--config",
                             str(config), "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"))
    try:
        children = "/proc/%d/task/%d/children" % (proc.pid, proc.pid)
        deadline = time.monotonic() + DEADLINE
        while not (os.path.exists(children) and open(children).read().split()):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.005)  # the parent has its handlers once it starts workers
        for _ in range(3):  # while the workers import and load their configuration
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)
        assert "with 2 workers" not in log.read_text()  # they were still starting
        wait_until(lambda: "with 2 workers" in log.read_text() or proc.poll() is not None,
                   "the workers to listen")
        assert proc.poll() is None, log.read_text()
        wait_until(lambda: log.read_text().count("configuration reloaded (generation 2") == 2,
                   "each worker's reload")
        port = int(re.search(r"listening on tcp 127\.0\.0\.1:(\d+)", log.read_text()).group(1))
        send(port, b"c.a 1 %d\n" % BASE_TS)
        counts = Configuration([str(config)]).schemas["counts"].timeseries
        wait_until(lambda: hour_total(counts, "c.a") == 1, "the point")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(DEADLINE) == 0, log.read_text()


def established(pid, port):
    """TCP connections process ``pid`` holds on its local ``port`` (Linux /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return sum(1 for fields in socket_rows("tcp")
               if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port
               and fields[9] in inodes)


def test_workers_take_equal_shares_of_long_lived_connections(tmp_path, start_karbon):
    """4 connections open at once land 2 and 2 on two workers, every time (with a socket
    per worker, the kernel's hash gives 2-2 three times in eight)."""
    config = ("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',"
              " 'intervals': {'hour': {'step': 3600}}}}\n" % (tmp_path / "w.db"))
    karbon = start_karbon(config, "--workers", "2")
    pids = [int(pid) for pid in karbon.wait_for(r"with 2 workers \(pids (\d+), (\d+)\)").groups()]
    for attempt in range(6):
        socks = [socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE)
                 for _ in range(4)]
        for sock in socks:
            sock.sendall(b"c.even 1 %d\n" % BASE_TS)
        wait_until(lambda: [established(pid, karbon.port) for pid in pids] == [2, 2],
                   "2 connections on each worker (attempt %d)" % attempt)
        for sock in socks:
            sock.close()
        wait_until(lambda: [established(pid, karbon.port) for pid in pids] == [0, 0],
                   "the connections closed")
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    wait_until(lambda: hour_total(counts, "c.even") == 24, "every point stored")
    assert karbon.stop() == 0


def test_stopping_workers_refuse_new_connections_and_keep_what_was_sent(tmp_path, start_karbon):
    """SIGTERM: the parent closes its socket and each worker its copy as it drains, so a
    new connection is refused (not queued unread until every worker exits), while the
    connection already open is read to its end."""
    config = ("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',"
              " 'intervals': {'hour': {'step': 3600}}}}\n" % (tmp_path / "w.db"))
    karbon = start_karbon(config, "--workers", "2", "--drain-timeout", "20")
    karbon.wait_for(r"with 2 workers")
    open_one = socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE)
    line = b"c.kept 1 %d\n" % BASE_TS
    open_one.sendall(line)
    sent = 1
    karbon.signal(15)
    refused = False
    ends = time.monotonic() + DEADLINE
    while not refused and time.monotonic() < ends:
        open_one.sendall(line)  # still sending: the drain keeps reading it
        sent += 1
        try:
            socket.create_connection(("127.0.0.1", karbon.port), timeout=1).close()
        except ConnectionRefusedError:
            refused = True
        gevent.sleep(0.2)
    assert refused and karbon.proc.poll() is None  # refused while the open one is still read
    open_one.sendall(line)
    open_one.close()
    assert karbon.proc.wait(DEADLINE) == 0
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    assert hour_total(counts, "c.kept") == sent + 1


def test_workers_stop_and_store_what_they_read_when_their_parent_dies(tmp_path, start_karbon):
    """The parent killed (SIGKILL, an OOM kill): each worker sees it within seconds, drains
    and stores what it read, and exits, so the port is free for the next karbon instead of
    held by orphans nobody supervises."""
    config = ("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',"
              " 'intervals': {'hour': {'step': 3600}}}}\n" % (tmp_path / "w.db"))
    karbon = start_karbon(config, "--workers", "2")
    pids = [int(pid) for pid in karbon.wait_for(r"with 2 workers \(pids (\d+), (\d+)\)").groups()]
    socks = [socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE)
             for _ in range(4)]
    for sock in socks:
        sock.sendall(b"c.orphan 1 %d\n" % BASE_TS)
    karbon.proc.kill()
    karbon.proc.wait(DEADLINE)
    sent = 1
    ends = time.monotonic() + DEADLINE
    # each worker looks every second, on its own clock; meanwhile the connections keep
    # sending, or a draining worker would close one idle for a second
    while karbon.output().count("is gone: stopping") < 2 and time.monotonic() < ends:
        for sock in socks:
            sock.sendall(b"c.orphan 1 %d\n" % BASE_TS)
        sent += 1
        gevent.sleep(0.2)
    for sock in socks:  # still read: the workers drain their open connections as they stop
        sock.sendall(b"c.orphan 1 %d\n" % BASE_TS)
        sock.close()
    sent += 1
    wait_until(lambda: not any(map(alive, pids)), "the workers to exit")
    assert karbon.output().count("is gone: stopping") == 2
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    assert hour_total(counts, "c.orphan") == 4 * sent
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", karbon.port))


def test_workers_share_the_udp_port(tmp_path, start_karbon):
    """With --udp each worker binds the port with SO_REUSEPORT: the kernel spreads the
    datagrams of many senders over them (by a hash of their addresses: 40 source ports
    all on one worker would happen once in 2**39), and every datagram is stored once."""
    config = ("SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',"
              " 'intervals': {'hour': {'step': 3600}}}}\nDEBUG = 1\n" % (tmp_path / "w.db"))
    karbon = start_karbon(config, "--workers", "2", "--udp", "127.0.0.1:0")
    # the parent's line, once every worker listens (each worker also says where it does)
    port = int(karbon.wait_for(r"udp 127\.0\.0\.1:(\d+).* with 2 workers").group(1))
    for _ in range(40):  # a socket each: another source port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"c.udp 1 %d\n" % BASE_TS, ("127.0.0.1", port))
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    wait_until(lambda: hour_total(counts, "c.udp") == 40, "every datagram stored")
    assert karbon.stop() == 0
    totals = [int(n) for n in re.findall(r"stopped: lines=(\d+)", karbon.output())]
    assert sorted(totals)[0] > 0 and sum(totals) == 40, totals  # both workers read some
