"""A client whose connections ask again the moment an answer arrives, as wrk's do; a plain
process (no gevent), so its turnaround is that of a load generator.

    python3 asking_client.py HOST PORT PATH CONNECTIONS ANSWERS

Prints, as JSON, for every answer: how many answers to the other connections came between its
request and itself.
"""
import json
import select
import socket
import sys


def whole_answers(data):
    """(statuses of the complete answers at the start of ``data``, what is left)."""
    statuses = []
    while b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")]
        if not lengths:
            raise SystemExit("an answer without Content-Length: %r" % head)
        length = int(lengths[0])
        if len(rest) < length:
            break
        statuses.append(head.split(b" ", 2)[1].decode())
        data = rest[length:]
    return statuses, data


def main(host, port, path, connections, answers):
    request = ("GET %s HTTP/1.1\r\nHost: torus\r\n\r\n" % path).encode()
    socks = [socket.create_connection((host, port), timeout=20) for _ in range(connections)]
    answered, asked_at, overtaken = 0, {}, []
    pending = {sock: b"" for sock in socks}
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        asked_at[sock] = 0
    while answered < answers:
        ready, _, _ = select.select(socks, [], [], 20)
        if not ready:
            raise SystemExit("no answer within 20 s")
        for sock in ready:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise SystemExit("torus closed a connection")
            pending[sock] += chunk
            statuses, pending[sock] = whole_answers(pending[sock])
            for status in statuses:
                if status != "200":
                    raise SystemExit("answer %s" % status)
                overtaken.append(answered - asked_at[sock])
                answered += 1
                sock.sendall(request)
                asked_at[sock] = answered
    print(json.dumps(overtaken))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
