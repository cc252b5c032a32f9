"""One HTTP/1.1 client connection as an asyncio protocol, for the built-in web tools' many small
GETs (scans.tools.kit.web_fetch opens, reuses and drops them).

The answer is parsed from the bytes as they arrive: no StreamReader, no task or future per read,
one future per answer, and per-request timeouts checked by the caller's periodic sweep rather
than a task of `asyncio.wait_for` or a loop timer each. At thousands of answers a second these
were most of the client's work.
"""

from __future__ import annotations

import asyncio

MAX_HEADER_BYTES = 64 * 1024
Answer = tuple[int, dict[str, str], bytes, int, bool]  # status, headers, body, length, reusable


class HttpError(Exception):
    """The server's answer could not be read."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, at most one request in flight: the answer is parsed from the
    bytes as they arrive (no StreamReader, no task per read), and handed over as one future.

    The answer's framing: Content-Length, chunked (trailers skipped), or a body until the
    connection closes; 1xx interim answers are skipped, 204 and 304 have no body."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[Answer] | None = None
        self.deadline = 0.0  # loop time by which the answer must have come (see `expire`)
        self.is_lost = False
        self._new_answer()

    def _new_answer(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.mode = ""  # "" (reading the head), "length", "chunked", "trailer" or "close"
        self.length = 0  # Content-Length (mode "length")
        self.chunk_left = -1  # chunked: -1 a size line is next, 0 the CRLF after a chunk
        self.body = bytearray()

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.answer is not None:
            self._advance()

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self.is_lost:
            return
        self.is_lost = True
        if self.answer is None:
            return
        if self.mode == "close":  # the body ends when the connection does
            self._answered(bytes(self.body), len(self.body), reusable=False)
        else:
            self._failed(ConnectionResetError("the server closed the connection mid-answer"))

    # --- requests ---

    def ask(self, request: bytes, timeout_s: float) -> asyncio.Future[Answer]:
        """Send a request; the future gets its answer. The caller calls `expire` now and then:
        a loop timer per request cost more than the rest of the request's handling."""
        assert self.transport is not None and self.answer is None
        loop = asyncio.get_running_loop()
        self.answer = answer = loop.create_future()
        self.deadline = loop.time() + timeout_s
        if self.is_lost:  # the server closed it while it was idle
            self._failed(ConnectionResetError("the connection was closed"))
        else:
            self.transport.write(request)
            if self.buffer:  # bytes that came unasked
                self._advance()
        return answer

    def expire(self, now: float) -> None:
        """Fail the request in flight if its deadline passed by loop time `now`."""
        if self.answer is not None and now >= self.deadline:
            self._failed(TimeoutError("no answer in time"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _answered(self, body: bytes, length: int, *, reusable: bool) -> None:
        answer, self.answer = self.answer, None
        if self.headers.get("connection", "").lower() == "close":
            reusable = False
        result = (self.status, self.headers, body, length, reusable)
        self._new_answer()
        if answer is not None and not answer.done():
            answer.set_result(result)

    def _failed(self, exc: BaseException) -> None:
        answer, self.answer = self.answer, None
        self.close()
        if answer is not None and not answer.done():
            answer.set_exception(exc)

    # --- parsing ---

    def _advance(self) -> None:
        try:
            while self.answer is not None:
                if not self._step():
                    return
        except (HttpError, ValueError) as exc:
            self._failed(exc)

    def _step(self) -> bool:
        """Parse what the buffer holds; False when more bytes are needed."""
        buffer = self.buffer
        if not self.mode:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    raise HttpError("the answer's header is too long")
                return False
            head = bytes(buffer[:end]).decode("latin-1")
            del buffer[: end + 4]
            return self._head(head)
        if self.mode == "length":
            need = min(self.length, self.max_body)
            if len(buffer) < need:
                return False
            body = bytes(buffer[:need])
            del buffer[:need]
            self._answered(body, self.length, reusable=self.length <= self.max_body)
            return True
        if self.mode == "close":
            self.body += buffer
            buffer.clear()
            if len(self.body) >= self.max_body:
                self._answered(bytes(self.body[: self.max_body]), len(self.body), reusable=False)
                return True
            return False
        return self._chunked()

    def _head(self, head: str) -> bool:
        status_line, _, rest = head.partition("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            return True  # an interim answer (100 Continue): the real one follows
        headers = self.headers
        for line in rest.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        self.status = status
        declared = headers.get("content-length", "")
        if status in (204, 304):
            self._answered(b"", 0, reusable=True)
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.mode = "chunked"
        elif declared.isdigit():
            self.mode, self.length = "length", int(declared)
        else:
            self.mode = "close"
        return True

    def _chunked(self) -> bool:
        buffer = self.buffer
        if self.mode == "trailer":
            end = buffer.find(b"\r\n")
            if end < 0:
                return False
            del buffer[: end + 2]
            if end == 0:  # the empty line after the trailers
                self._answered(bytes(self.body), len(self.body), reusable=True)
            return True
        if self.chunk_left < 0:
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > 1024:
                    raise HttpError("a chunk size line is too long")
                return False
            size = int(bytes(buffer[:end]).split(b";")[0].strip() or b"0", 16)
            del buffer[: end + 2]
            if size == 0:
                self.mode = "trailer"
            else:
                self.chunk_left = size
            return True
        if self.chunk_left > 0:
            take = min(len(buffer), self.chunk_left)
            if not take:
                return False
            self.body += buffer[:take]
            del buffer[:take]
            self.chunk_left -= take
            if len(self.body) > self.max_body:
                self._answered(bytes(self.body[: self.max_body]), len(self.body), reusable=False)
            return True
        if len(buffer) < 2:  # the CRLF that ends a chunk
            return False
        del buffer[:2]
        self.chunk_left = -1
        return True
