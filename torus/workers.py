"""karbon --workers N: N karbon processes on one port, under a parent that supervises them.

One Python process uses one core. The parent listens on the TCP port and starts N
workers, each an ordinary karbon that accepts from the parent's socket, taking only
its share of the open connections (``torus.balance``: long-lived connections are
spread evenly, not by a hash of their addresses), and listens on the UDP port with
``--reuse-port`` (the kernel spreads datagrams over them, SO_REUSEPORT). The parent
says where they listen once they all accept, and then only watches:

* SIGHUP is passed to every worker (each reloads its configuration); a worker still
  starting gets it once it accepts: before, it has no handler for it yet, and SIGHUP's
  default action would end it;
* SIGTERM/SIGINT are passed on; each worker drains and stores what it read, and
  the parent exits when all have, 0 when every worker did;
* a worker that dies on its own is started again (after a second, then longer
  while it keeps dying), so one crash does not halve the capacity for good.

Only the first worker expires SQL schemas (``--expire-every``): once is enough.
Port 0 is resolved by the parent first (TCP: its own socket's), so that every worker
listens on the same free port. With ``--metrics HOST:PORT`` each worker serves its own
/metrics, /health and /ready on PORT+n (n = 0..N-1; with port 0 the parent picks a free
port for each): every worker counts only what it handled, so Prometheus scrapes N
targets and sums them (``sum without (instance)``); each worker knows its number from
``KARBON_WORKER`` (self-metrics names). Dead letters of all workers go to the same
files: each part is appended with one write, so parts of two workers never interleave.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Set, Tuple

from . import balance
from .daemon import announce, format_address
from .errors import TorusError

if TYPE_CHECKING:
    import gevent

log = logging.getLogger(__name__)

#: seconds before a worker that died is started again, doubled while it keeps dying
RESTART_DELAY = 1.0
RESTART_DELAY_MOST = 30.0
#: a worker that ran this long before dying is considered healthy again
HEALTHY_AFTER = 60.0
#: seconds the workers may take to start listening
STARTUP_TIMEOUT = 60.0
#: how a worker starts: karbon's own entry point (gevent patches sockets before anything loads)
WORKER = "import sys; from torus.karbon import main; sys.exit(main(sys.argv[1:]))"
#: environment variable: the pid of the parent a worker watches (``watch_parent``)
PARENT_ENV = "KARBON_PARENT"
#: seconds between a worker's looks at whether its parent still runs
PARENT_CHECK = 1.0


def free_port(host: str, kind: int) -> int:
    """A port free on ``host`` now (for port 0: every worker must listen on the same one)."""
    family = socket.getaddrinfo(host, 0, 0, kind)[0][0]
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def worker_arguments(argv: Sequence[str], tcp: Tuple[str, int], udp: Optional[Tuple[str, int]],
                     number: int, metrics: Optional[Tuple[str, int]] = None) -> List[str]:
    """The command line of worker ``number``: karbon's own, one process, on the given ports."""
    out: List[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--workers", "--tcp", "--udp", "--metrics") or (
                number and name == "--expire-every"):
            skip = "=" not in arg
            continue
        out.append(arg)
    out += ["--tcp", "%s:%d" % (_bracketed(tcp[0]), tcp[1])]  # accepted from the parent's socket
    if udp is not None:  # each binds the UDP port itself: the kernel spreads the datagrams
        out += ["--reuse-port", "--udp", "%s:%d" % (_bracketed(udp[0]), udp[1])]
    if number:
        out += ["--expire-every", "0"]  # one worker expires the SQL schemas for all
    if metrics is not None:
        out += ["--metrics", "%s:%d" % (_bracketed(metrics[0]), metrics[1])]
    return out


def metrics_addresses(metrics: Optional[Tuple[str, int]],
                      workers: int) -> List[Optional[Tuple[str, int]]]:
    """Worker n's --metrics address: PORT+n, or a free port each for port 0."""
    if metrics is None:
        return [None] * workers
    host, port = metrics
    if port == 0:
        return [(host, free_port(host, socket.SOCK_STREAM)) for _ in range(workers)]
    if port + workers - 1 > 65535:
        raise TorusError("--metrics port %d + %d workers is past 65535" % (port, workers))
    return [(host, port + number) for number in range(workers)]


def watch_parent(stop: Callable[[str], None]) -> Optional["gevent.Greenlet"]:
    """In a worker of ``karbon --workers``: a greenlet calling ``stop(why)`` once the parent
    is gone (killed, out of memory), so the worker drains, stores what it read and exits
    instead of holding the port unsupervised; None in a karbon of its own.

    The kernel gives an orphan another parent, so ``getppid()`` no longer names the one
    that started it (checked every ``PARENT_CHECK`` seconds: no signal to set up, and
    nothing the parent must do when it dies)."""
    text = os.environ.get(PARENT_ENV, "")
    if not text.isdigit():
        return None
    parent = int(text)
    import gevent

    def watch() -> None:
        while os.getppid() == parent:
            gevent.sleep(PARENT_CHECK)
        stop("worker %s: its parent karbon (pid %d) is gone" % (
            os.environ.get("KARBON_WORKER", "?"), parent))
    return gevent.spawn(watch)


def _bracketed(host: str) -> str:
    return "[%s]" % host if ":" in host else host


class Supervisor:
    """Starts the workers, passes signals on, restarts a worker that died on its own."""

    def __init__(self, argv: Sequence[str], workers: int, tcp: Tuple[str, int],
                 udp: Optional[Tuple[str, int]], metrics: Optional[Tuple[str, int]] = None):
        # one TCP socket, the parent's, which every worker accepts from (``torus.balance``)
        from .karbon import _listener
        self.listener = _listener(socket.SOCK_STREAM, tcp, reuse_port=False)
        self.shares = balance.Shares.create(workers)
        tcp = (tcp[0], self.listener.getsockname()[1])
        if udp is not None and udp[1] == 0:
            udp = (udp[0], free_port(udp[0], socket.SOCK_DGRAM))
        self.tcp, self.udp = tcp, udp
        self.metrics = metrics_addresses(metrics, workers)
        self.commands = [[sys.executable, "-c", WORKER]
                         + worker_arguments(argv, tcp, udp, n, self.metrics[n])
                         for n in range(workers)]
        self.procs: Dict[int, subprocess.Popen] = {}
        self.started: Dict[int, float] = {}
        self.delays: Dict[int, float] = {}
        self.stopping = False
        self.codes: Dict[int, int] = {}
        #: the workers a SIGHUP came for while they were not accepting yet
        self.owed_reloads: Set[int] = set()

    def where(self) -> str:
        out = "tcp %s" % format_address(self.tcp)
        if self.udp is not None:
            out += ", udp %s" % format_address(self.udp)
        if self.metrics[0] is not None:
            out += ", metrics %s" % " ".join("http://%s" % format_address(address)
                                             for address in self.metrics if address)
        return out

    def start(self, number: int) -> None:
        if self.stopping:  # not after SIGTERM: the listening socket is being closed
            return
        # the workers import this very torus, installed or not
        home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [home, os.environ.get("PYTHONPATH")])), KARBON_WORKER=str(number))
        env[PARENT_ENV] = str(os.getpid())
        env.update({balance.LISTEN_FD: str(self.listener.fileno()),
                    balance.SHARES_FD: str(self.shares.fd),
                    balance.WORKERS: str(len(self.commands))})
        self.shares.clear(number)
        self.procs[number] = subprocess.Popen(
            self.commands[number], stdin=subprocess.DEVNULL, env=env,
            pass_fds=(self.listener.fileno(), self.shares.fd))
        self.started[number] = time.monotonic()

    def wait_listening(self, timeout: float = STARTUP_TIMEOUT) -> bool:
        """Whether every worker accepts on the TCP port before ``timeout`` (False as soon as
        one exited); a worker binds its UDP socket before it accepts."""
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            if any(proc.poll() is not None for proc in self.procs.values()):
                return False
            if self.shares.ready_count() >= len(self.procs):
                return True
            self.pay_reloads()
            time.sleep(0.05)
        return False

    def signal_all(self, signum: int) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    def on_signal(self, signum: int, _frame) -> None:
        if signum == signal.SIGHUP:
            self.owed_reloads.update(self.procs)
            self.pay_reloads()
            return
        if signum in (signal.SIGTERM, signal.SIGINT):
            if not self.stopping:
                log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self.procs))
            self.stopping = True  # run() then closes the listening socket
        self.signal_all(signum)

    def pay_reloads(self) -> None:
        """SIGHUP to each worker that one came for and that accepts now (it installs its
        handler before it accepts); one that exited owes none (its next start reads the
        configuration anew)."""
        for number in list(self.owed_reloads):
            proc = self.procs.get(number)
            if proc is None or proc.poll() is not None:
                self.owed_reloads.discard(number)
            elif self.shares.accepts(number):
                self.owed_reloads.discard(number)
                proc.send_signal(signal.SIGHUP)

    def close_listener(self) -> None:
        """Stopping: the workers close their copies as they start draining; then the port is
        shut and a new connection is refused, not left unread in the queue until all exit."""
        if self.listener.fileno() != -1:
            self.listener.close()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self.on_signal)
        for number in range(len(self.commands)):
            self.start(number)
        if not self.wait_listening():
            self.stopping = True
            self.signal_all(signal.SIGTERM)
            for proc in self.procs.values():
                proc.wait(30)
            raise TorusError("the workers did not all start listening on %s" % self.where())
        announce("karbon", _version(), "%s with %d workers (pids %s)" % (
            self.where(), len(self.commands), ", ".join(str(p.pid) for p in self.procs.values())))
        waiting: Dict[int, float] = {}  # worker -> when to start it again
        while True:
            for number, proc in self.procs.items():
                code = proc.poll()
                if code is None or number in self.codes or number in waiting:
                    continue
                if self.stopping:
                    self.codes[number] = code
                    continue
                ran = time.monotonic() - self.started[number]
                delay = RESTART_DELAY if ran > HEALTHY_AFTER else min(
                    self.delays.get(number, RESTART_DELAY / 2) * 2, RESTART_DELAY_MOST)
                self.delays[number] = delay
                self.shares.clear(number)  # the others no longer leave connections to it
                log.error("worker %d (pid %d) exited with %s after %.0f s: starting it again in "
                          "%.0f s", number, proc.pid, code, ran, delay)
                waiting[number] = time.monotonic() + delay
            if self.stopping:
                self.close_listener()
                for number in list(waiting):  # not started again: it has nothing to drain
                    self.codes[number] = 0
                    waiting.pop(number)
                if len(self.codes) == len(self.procs):
                    break
            for number, when in list(waiting.items()):
                if time.monotonic() >= when:
                    waiting.pop(number)
                    self.start(number)
            self.pay_reloads()
            time.sleep(0.1)
        bad = {n: c for n, c in self.codes.items() if c != 0}
        if bad:
            log.error("workers exited with %s", bad)
        return 1 if bad else 0


def _version() -> str:
    from . import __version__
    return __version__


def run_workers(argv: Sequence[str], workers: int, tcp: Tuple[str, int],
                udp: Optional[Tuple[str, int]], metrics: Optional[Tuple[str, int]] = None) -> int:
    """Run ``workers`` karbon processes until they are all stopped; the exit status."""
    check_platform(udp)
    return Supervisor(argv, workers, tcp, udp, metrics).run()


def check_platform(udp: Optional[Tuple[str, int]]) -> None:
    """TorusError when this system cannot run the workers: they inherit the parent's TCP
    socket (POSIX), and with ``--udp`` each binds the port with SO_REUSEPORT."""
    if os.name != "posix":
        raise TorusError("--workers needs a POSIX system (the workers inherit the TCP socket)")
    if udp is not None and not hasattr(socket, "SO_REUSEPORT"):
        raise TorusError("--workers with --udp needs SO_REUSEPORT (Linux, BSD): run one "
                         "karbon for UDP, or --workers without --udp")
