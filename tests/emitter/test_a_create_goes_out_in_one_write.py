"""An Event create leaves the notifier in one write: request headers and body together (urllib3
sends them in two — two TLS records and two packets on the path of every notification)."""

from __future__ import annotations

import ssl
from typing import Any


def test_one_create_is_one_tls_write_to_the_api_server(bus, monkeypatch):
    writes: list[int] = []
    real = ssl.SSLSocket.sendall

    def counting(self: ssl.SSLSocket, data: Any, *args: Any) -> Any:
        if self.getpeername()[1] == bus.api.port:
            writes.append(len(data))
        return real(self, data, *args)

    with bus.emitter() as em:
        em.notify("nuke_response", {"data": "first"}, to="r")  # connects
        monkeypatch.setattr(ssl.SSLSocket, "sendall", counting)
        em.notify("nuke_response", {"data": "second"}, to="r")
        monkeypatch.undo()
    assert len(writes) == 1, writes
    assert [e.messages[0].data for e in bus.envelopes()] == [[{"data": "first"}],
                                                             [{"data": "second"}]]
