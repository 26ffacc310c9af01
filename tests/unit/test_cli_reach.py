"""Why a registry cannot be reached: one TCP connect tells a stopped registry from a running one."""

from __future__ import annotations

import socket

from promoter.cli.reach import address_of, why_unreachable


def test_a_port_where_nothing_listens_is_connection_refused() -> None:
    # Given a loopback port that was just free (bound, then closed)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert why_unreachable(f"http://127.0.0.1:{port}") == "connection refused"


def test_a_listening_port_is_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        assert why_unreachable(f"http://127.0.0.1:{port}") is None


def test_an_unknown_host_is_named_so() -> None:
    assert why_unreachable("http://no-such-host.invalid:5000", timeout=2.0) == "unknown host"


def test_default_ports_follow_the_scheme() -> None:
    assert address_of("http://127.0.0.1") == ("127.0.0.1", 80, "127.0.0.1")
    assert address_of("https://registry.example") == ("registry.example", 443, "registry.example")
    assert address_of("http://127.0.0.1:1") == ("127.0.0.1", 1, "127.0.0.1:1")
