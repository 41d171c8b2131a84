"""A TCP proxy in front of PostgreSQL that loses one answer: the network dropping at the
worst moment, after the server committed a statement and before the client heard so."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests import pg


class AnswerLost:
    """Forwards every connection to the server; the first client message holding
    ``marker`` goes through, and when the server answers it, that connection is cut
    instead (both sides), once. Connect with ``url(dbname)``."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.fired = threading.Event()
        self._armed = True
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, dbname: str) -> str:
        # No TLS, so that the proxy can see the statements go by.
        return f"postgresql://{pg.USER}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection((pg.HOST, pg.PORT))
            doomed = threading.Event()
            for args in ((client, upstream, doomed, True), (upstream, client, doomed, False)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, doomed: threading.Event,
              from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if from_client and self.marker in data and self._arm_once():
                    doomed.set()
                elif not from_client and doomed.is_set():
                    self.fired.set()
                    break  # the answer is dropped with the connection
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _arm_once(self) -> bool:
        with self._lock:
            armed, self._armed = self._armed, False
        return armed
