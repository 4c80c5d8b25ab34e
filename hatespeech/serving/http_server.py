"""The HTTP server settings of ``app.py``: uvicorn with a deadline on request headers.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``), but it waits for a request's
headers as long as a client keeps sending bytes: 100 "slow-loris" connections that trickle a header
byte at a time stayed open for 40 s and more. Here a connection must complete each request's
headers within ``HEADER_TIMEOUT_S`` (10 s by default) of connecting or of its previous response,
or it is closed; a request whose headers arrived is never cut, however long its body or its answer.
uvicorn's access log prints each client's address: ``ACCESS_LOG=0`` switches it off.
"""

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from hatespeech.settings import ServerSettings, load

DEFAULT_HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineProtocol(AutoHTTPProtocol):
    """uvicorn's HTTP protocol (httptools, else h11) that closes a connection still without a complete
    request after the deadline."""

    header_timeout_s = DEFAULT_HEADER_TIMEOUT_S
    _deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request's headers

    def connection_lost(self, exc) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        waiting_for = self.cycle  # the request in flight when armed (None: none yet)
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expire, waiting_for)

    def _expire(self, waiting_for) -> None:
        # A new cycle exists once the next request's headers are complete: that request is never cut.
        if self.cycle is waiting_for and not self.transport.is_closing():
            self.transport.close()


def server_config(app, host: str, port: int, settings: ServerSettings | None = None) -> uvicorn.Config:
    """The uvicorn configuration ``app.py`` serves with (tests build the same one). ``X-Forwarded-For`` names the
    client only behind a proxy listed in ``TRUSTED_PROXIES`` (none by default: uvicorn would trust 127.0.0.1, so
    anyone could pick the address that the feedback rate limit counts)."""
    settings = settings or load(ServerSettings)
    protocol = type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_s": settings.header_timeout_s})
    trusted = settings.trusted_proxies.strip()
    return uvicorn.Config(app, host=host, port=port, http=protocol, timeout_keep_alive=5, proxy_headers=bool(trusted),
                          forwarded_allow_ips=trusted or None, access_log=settings.access_log)  # fmt: skip
