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
                      "--reuse-port", "--expire-every", "0"]  # one worker expires SQL schemas
