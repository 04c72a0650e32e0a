"""A Redis Cluster on loopback for tests and CI: 3 primaries and 3 replicas, nothing on disk.

One helper for both users, so CI and a developer's ``pytest`` test the same thing:

* ``.ci/run`` calls ``python3 -m tests.redis_cluster start DIR`` (prints the
  ``redis+cluster://`` URL), exports it as ``TEST_REDIS_CLUSTER_URL`` and calls
  ``python3 -m tests.redis_cluster stop DIR`` on exit;
* without that variable, a session fixture of ``tests/conftest.py`` starts its own.

Every node is a ``redis-server --cluster-enabled yes --daemonize yes`` whose pid file,
log and cluster state file live in DIR, so ``stop`` ends exactly those processes (by
pid) and a test can stop, pause or resume one node. Ports are free loopback ports
whose cluster bus port (port + 10000) is free too.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional

#: how long a node may stay silent before the others call it failed (and fail it over)
DEFAULT_NODE_TIMEOUT_MS = 5000
PRIMARIES = 3
START_DEADLINE = 30


class ClusterError(RuntimeError):
    """The cluster could not be started (the reason is the message)."""


def _free_port() -> int:
    """A free port whose bus port (+10000) is free as well."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise ClusterError("no free port pair (port, port + 10000) on 127.0.0.1")


def _cli(port: int, *args: str, timeout: float = 10) -> str:
    done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                          capture_output=True, text=True, timeout=timeout)
    return done.stdout


def _info(port: int) -> Dict[str, str]:
    """``CLUSTER INFO`` of one node as a dict ({} when it does not answer)."""
    try:
        text = _cli(port, "cluster", "info", timeout=3)
    except subprocess.TimeoutExpired:
        return {}
    return dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)


class Cluster:
    """The nodes of one cluster, found from the pid files in ``directory``."""

    def __init__(self, directory: str):
        self.directory = directory

    @property
    def ports(self) -> List[int]:
        return sorted(int(name[6:-4]) for name in os.listdir(self.directory)
                      if name.startswith("redis-") and name.endswith(".pid"))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join("127.0.0.1:%d" % port for port in self.ports)

    def pid(self, port: int) -> Optional[int]:
        try:
            with open(os.path.join(self.directory, "redis-%d.pid" % port)) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def signal(self, port: int, signum: int) -> None:
        pid = self.pid(port)
        if pid is not None:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def primaries(self) -> List[int]:
        """Ports of the nodes that are primaries now (as the first answering node sees it)."""
        for port in self.ports:
            try:
                text = _cli(port, "cluster", "nodes", timeout=3)
            except subprocess.TimeoutExpired:
                continue
            if not text.strip():
                continue
            out = []
            for line in text.splitlines():
                fields = line.split()
                if "master" in fields[2] and "fail" not in fields[2] and len(fields) > 8:
                    out.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
            return sorted(out)
        return []

    def healthy(self, nodes: Optional[List[int]] = None) -> bool:
        """Every given node (default: all) answers and says the cluster is ok, all slots served."""
        for port in nodes or self.ports:
            info = _info(port)
            if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != "16384":
                return False
        return True

    def wait_healthy(self, nodes: Optional[List[int]] = None, deadline: float = START_DEADLINE) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.healthy(nodes):
                return
            time.sleep(0.2)
        raise ClusterError("the cluster in %s did not report cluster_state:ok within %ds"
                           % (self.directory, deadline))

    def stop(self) -> None:
        """SIGTERM every node (SIGCONT first: a paused node cannot exit), SIGKILL stragglers."""
        pids = [pid for pid in (self.pid(port) for port in self.ports) if pid is not None]
        for pid in pids:
            for signum in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 10
        for pid in pids:
            while alive(pid) and time.monotonic() < end:
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (one that exited and nobody reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (our own child, not reaped yet) is gone for our purposes
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def start(directory: str, node_timeout_ms: int = DEFAULT_NODE_TIMEOUT_MS) -> Cluster:
    """Start 6 nodes in ``directory`` and join them into 3 primaries with a replica each."""
    for binary in ("redis-server", "redis-cli"):
        if shutil.which(binary) is None:
            raise ClusterError("%s is not installed" % binary)
    os.makedirs(directory, exist_ok=True)
    cluster = Cluster(directory)
    ports = []
    try:
        for _ in range(PRIMARIES * 2):
            port = _free_port()
            ports.append(port)
            subprocess.run(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms),
                 "--cluster-config-file", "nodes-%d.conf" % port, "--dir", directory,
                 "--save", "", "--appendonly", "no", "--daemonize", "yes",
                 "--repl-diskless-sync-delay", "0",  # replicas in sync at once, not after 5 s
                 "--pidfile", os.path.join(directory, "redis-%d.pid" % port),
                 "--logfile", os.path.join(directory, "redis-%d.log" % port)],
                check=True, capture_output=True, timeout=10)
        end = time.monotonic() + 10
        while not all(_cli(port, "ping", timeout=3).strip() == "PONG" for port in ports):
            if time.monotonic() > end:
                raise ClusterError("the nodes did not answer PING within 10 s")
            time.sleep(0.05)
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *["127.0.0.1:%d" % port for port in ports],
             "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise ClusterError("redis-cli --cluster create failed: %s"
                               % (created.stdout[-500:] + created.stderr[-500:]))
        cluster.wait_healthy()
        _wait_replicas_synced(cluster)
    except (ClusterError, subprocess.SubprocessError, OSError) as err:
        cluster.stop()
        if isinstance(err, ClusterError):
            raise
        raise ClusterError("could not start a Redis Cluster: %s" % err) from err
    return cluster


def _wait_replicas_synced(cluster: Cluster) -> None:
    """Until every primary has its replica online, synced (only a replica that was in sync
    recently may take over: ``cluster-replica-validity-factor``)."""
    end = time.monotonic() + START_DEADLINE
    while time.monotonic() < end:
        primaries = cluster.primaries()
        if len(primaries) == PRIMARIES and all(
                "state=online" in _cli(port, "info", "replication", timeout=3)
                for port in primaries):
            return
        time.sleep(0.2)
    raise ClusterError("the replicas did not connect to their primaries within %ds" % START_DEADLINE)


def main(argv: List[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python3 -m tests.redis_cluster start|stop DIR", file=sys.stderr)
        return 2
    command, directory = argv
    if command == "stop":
        if os.path.isdir(directory):
            Cluster(directory).stop()
        return 0
    try:
        print(start(directory).url)
    except ClusterError as err:
        print("cannot start a Redis Cluster: %s" % err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
