"""The test helpers' ports: none can be given to another server of this test
run before the one it is meant for binds it."""

from __future__ import annotations

import socket

import pytest
from helpers import EPHEMERAL_PORTS, free_port, refused_port


def test_a_refused_port_refuses_and_cannot_be_taken() -> None:
    with refused_port() as port:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))


def test_free_ports_are_never_drawn_by_a_port_0_bind_nor_handed_out_twice() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert not [port for port in ports if port in EPHEMERAL_PORTS]
