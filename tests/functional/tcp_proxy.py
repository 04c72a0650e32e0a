"""A TCP proxy for fault tests: forwards bytes, and can lose the reply to a chosen request once.

``LosingProxy(target, trigger)`` forwards between clients and ``target``; the first
time a client sends bytes holding ``trigger`` (say the PostgreSQL ``COMMIT`` query),
the server's answer to it is not forwarded: the proxy closes both sides instead. The
server did the work (committed), the client sees a dropped connection: the outcome
a retry must not apply twice.
"""
import socket

import gevent
from gevent.server import StreamServer


class LosingProxy:
    """See the module docstring; ``hold = True`` stalls every connection (bytes are kept and
    forwarded when ``hold`` is False again), like a server that stops answering."""

    def __init__(self, target, trigger):
        self.target = target
        self.trigger = trigger
        self.armed = True
        self.lost = 0
        self.hold = False
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.address[1]

    def _handle(self, client, _address):
        upstream = socket.create_connection(self.target)
        state = {"losing": False}

        def client_to_server():
            while True:
                data = client.recv(65536)
                if not data:
                    break
                while self.hold:
                    gevent.sleep(0.05)
                if self.armed and self.trigger in data:
                    self.armed = False
                    state["losing"] = True
                upstream.sendall(data)

        def server_to_client():
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                while self.hold:
                    gevent.sleep(0.05)
                if state["losing"]:  # the answer to the trigger: drop it and the connection
                    self.lost += 1
                    break
                client.sendall(data)

        pumps = [gevent.spawn(client_to_server), gevent.spawn(server_to_client)]
        gevent.joinall(pumps, count=1)
        gevent.killall(pumps)
        for sock in (client, upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def stop(self):
        self.server.stop()
