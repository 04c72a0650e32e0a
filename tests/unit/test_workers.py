"""karbon --workers: the command line each worker gets (pure)."""
from torus.workers import worker_arguments


def test_workers_get_karbons_options_on_one_port():
    argv = ["--tcp", "0.0.0.0:0", "--config", "a.py", "--workers", "2", "--udp=:0",
            "--expire-every", "60", "--queue-size", "8"]
    first = worker_arguments(argv, ("0.0.0.0", 2003), ("::", 2003), 0)
    assert first == ["--config", "a.py", "--expire-every", "60", "--queue-size", "8",
                     "--tcp", "0.0.0.0:2003", "--reuse-port", "--udp", "[::]:2003"]
    second = worker_arguments(argv, ("0.0.0.0", 2003), None, 1)
    assert second == ["--config", "a.py", "--queue-size", "8", "--tcp", "0.0.0.0:2003",
                      "--expire-every", "0"]  # one worker expires SQL schemas; no UDP to share


def test_only_udp_needs_so_reuseport(monkeypatch):
    """The workers accept from the parent's TCP socket; only binding one UDP port in each
    worker needs SO_REUSEPORT."""
    import socket
    import pytest
    from torus.errors import TorusError
    from torus.workers import check_platform
    monkeypatch.delattr(socket, "SO_REUSEPORT", raising=False)
    check_platform(None)
    with pytest.raises(TorusError, match="--workers with --udp needs SO_REUSEPORT"):
        check_platform(("127.0.0.1", 2003))
