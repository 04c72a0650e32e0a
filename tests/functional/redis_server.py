"""A private redis-server for fault tests: started on a free port, paused, resumed, stopped."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tests.conftest import IN_CI


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``redis-server`` in the foreground, nothing on disk; ``url`` for kairos."""

    def __init__(self, tmp_path):
        binary = shutil.which("redis-server")
        if binary is None:
            if IN_CI:
                pytest.fail("CI is set and redis-server is not installed", pytrace=False)
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "redis://127.0.0.1:%d/0" % self.port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start on port %d" % self.port)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port)

    def pause(self):
        """SIGSTOP: connections are still accepted by the kernel, nothing is answered."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def calls(self, command):
        """How many times the server ran ``command`` (INFO commandstats)."""
        stats = self.client().info("commandstats")
        return stats.get("cmdstat_%s" % command, {}).get("calls", 0)

    def stop(self):
        if self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            self.proc.wait(10)
