"""Multipart request bodies read as a stream, and the bridge from the event loop to a sync store.

Starlette's ``request.form()`` spools a whole file to a temporary file before the route sees it,
so a size limit would only be checked afterwards and a 2 GiB upload would sit on disk twice.
Here the body is parsed incrementally with python-multipart's ``MultipartParser``: form fields
come out as short strings (bounded), and a file part's bytes are passed on chunk by chunk.

A file part is consumed by sync code (the evidence service and the object store) running in a
worker thread. The chunks travel through a small bounded channel, so the upload never holds
more than a few request chunks: when the store is slower than the client, the channel fills and
reading the request body waits, which in turn makes the client wait (TCP back-pressure).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from fastapi import Request
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from audit_portal.errors import InvalidInput, PortalError
from audit_portal.i18n import N_

T = TypeVar("T")

MAX_FIELD_BYTES = 256 * 1024
"""A form field or JSON metadata part is small; anything bigger is refused, not buffered."""
MAX_PARTS = 200
CHANNEL_CHUNKS = 16
"""Request chunks (64 KiB with uvicorn) waiting for the store at most: about 1 MiB."""
MAX_READ = 1024 * 1024
"""The most one read hands to the store, gathered from the chunks already waiting."""


class UploadInterrupted(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("The upload ended before the file was complete; nothing was stored. Try again."))


@dataclass
class _Event:
    kind: str  # "part" (headers finished), "data", "end" (part end)
    data: bytes = b""
    headers: dict[str, str] | None = None


class Part:
    """One part of the body. Read it with :meth:`text` or :meth:`chunks` before asking for the
    next part; whatever is left unread is skipped."""

    def __init__(self, upload: MultipartUpload, headers: dict[str, str]) -> None:
        self._upload = upload
        raw_disposition = headers.get("content-disposition", "")
        disposition, options = parse_options_header(raw_disposition)
        if disposition.lower() != b"form-data" or b"name" not in options:
            raise InvalidInput(N_("A multipart part has no form-data name."))
        self.name = _header_text(options[b"name"])
        self.filename = _extended_filename(raw_disposition)
        if self.filename is None and b"filename" in options:
            self.filename = _header_text(options[b"filename"])
        self.content_type = headers.get("content-type")
        self.finished = False

    @property
    def is_file(self) -> bool:
        return self.filename is not None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The part's bytes as they arrive; ends only at the part's closing boundary."""
        while not self.finished:
            event = await self._upload.next_event()
            if event is None:
                raise UploadInterrupted()
            if event.kind == "data":
                if event.data:
                    yield event.data
            elif event.kind == "end":
                self.finished = True
            else:
                raise InvalidInput(N_("The multipart body is malformed."))

    async def text(self, max_bytes: int = MAX_FIELD_BYTES) -> str:
        collected = bytearray()
        async for chunk in self.chunks():
            collected += chunk
            if len(collected) > max_bytes:
                raise InvalidInput(
                    N_("The form field '%(name)s' is longer than %(bytes)s bytes."),
                    values={"name": self.name, "bytes": max_bytes},
                )
        try:
            return collected.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(N_("The form field '%(name)s' is not UTF-8 text."), values={"name": self.name}) from None

    async def skip(self) -> None:
        async for _ in self.chunks():
            pass


def _header_text(raw: bytes) -> str:
    """A header parameter's bytes as text: UTF-8 as RFC 7578 says browsers send, and Latin-1
    for the odd older client, whose bytes are not valid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_EXTENDED_FILENAME = re.compile(r"""(?:^|;)\s*filename\*\s*=\s*([^;]+)""", re.IGNORECASE)


def _extended_filename(raw_disposition: str) -> str | None:
    """The RFC 5987 ``filename*=UTF-8''...`` parameter, which some clients send alongside (or
    instead of) the plain one; when present it names the file exactly."""
    match = _EXTENDED_FILENAME.search(raw_disposition)
    if match is None:
        return None
    charset, quote_mark, rest = match.group(1).strip().strip('"').partition("'")
    _language, quote_mark2, encoded = rest.partition("'")
    if not quote_mark or not quote_mark2 or charset.lower() not in ("utf-8", "iso-8859-1"):
        raise InvalidInput(N_("The file part's filename* parameter is not of the form UTF-8''name."))
    try:
        return unquote(encoded, encoding=charset.lower(), errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(N_("The file part's filename* parameter is not valid UTF-8.")) from None


class MultipartUpload:
    """``async for part in MultipartUpload(request).parts(): ...``"""

    def __init__(self, request: Request) -> None:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        if content_type.lower() != b"multipart/form-data" or not options.get(b"boundary"):
            raise InvalidInput(N_("Send the upload as multipart/form-data."))
        self._events: deque[_Event] = deque()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._parser = MultipartParser(
            options[b"boundary"],
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )
        self._body = request.stream()
        self._body_done = False
        self._current: Part | None = None

    # -- parser callbacks (sync, called from parser.write) --------------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        # Latin-1 maps every byte to one character, so the header's raw bytes survive until the
        # parameters are parsed; RFC 7578 filenames are UTF-8 and are decoded only then.
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(_Event("part", headers=self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(_Event("data", data=bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(_Event("end"))

    # -- reading ----------------------------------------------------------------------------

    async def next_event(self) -> _Event | None:
        """The next parser event, reading more of the body when none is waiting; None at the
        end of the body."""
        while not self._events:
            if self._body_done:
                return None
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._body_done = True
                self._finalize()
                continue
            except ClientDisconnect:
                raise UploadInterrupted() from None
            if chunk:
                try:
                    self._parser.write(chunk)
                except MultipartParseError as error:
                    raise InvalidInput(
                        N_("The multipart body is malformed: %(problem)s"), values={"problem": str(error)}
                    ) from None
        return self._events.popleft()

    def _finalize(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError as error:
            raise InvalidInput(
                N_("The multipart body is malformed: %(problem)s"), values={"problem": str(error)}
            ) from None

    async def parts(self) -> AsyncIterator[Part]:
        count = 0
        while True:
            if self._current is not None and not self._current.finished:
                await self._current.skip()
            event = await self.next_event()
            if event is None:
                return
            if event.kind != "part":
                raise InvalidInput(N_("The multipart body is malformed."))
            count += 1
            if count > MAX_PARTS:
                raise InvalidInput(N_("At most %(parts)s parts per upload."), values={"parts": MAX_PARTS})
            self._current = Part(self, event.headers or {})
            yield self._current


# --- the bridge to sync code ----------------------------------------------------------------


class ChannelReader:
    """A blocking ``read(n)`` over a channel of chunks, for code running in a worker thread.

    The channel ends with ``None`` when the part ended properly; a channel that closes without
    it means the upload broke off, and reading raises instead of reporting a clean end, so a
    truncated file can never be stored as if it were complete.

    Each trip to the event loop collects every chunk already waiting (one thread hop per
    ``MAX_READ`` bytes or so, not per network chunk); the chunks are then handed out one by one,
    the very bytes objects the parser produced, so the file is not copied on its way to the
    store's hash and write.
    """

    def __init__(self, receive: MemoryObjectReceiveStream[bytes | None]) -> None:
        self._receive = receive
        self._pending: deque[bytes] = deque()
        self._ended = False

    def read(self, size: int = -1, /) -> bytes:
        wanted = MAX_READ if size is None or size < 0 else min(size, MAX_READ)
        if not self._pending:
            if self._ended:
                return b""
            self._pending.extend(anyio.from_thread.run(self._gather, MAX_READ))
            if not self._pending:
                return b""
        chunk = self._pending.popleft()
        if len(chunk) > wanted:
            self._pending.appendleft(chunk[wanted:])
            chunk = chunk[:wanted]
        return chunk

    async def _gather(self, wanted: int) -> list[bytes]:
        """One chunk (waiting for it), then whatever else is already waiting, up to ``wanted``."""
        pieces: list[bytes] = []
        gathered = 0
        try:
            item = await self._receive.receive()
        except anyio.EndOfStream:
            raise UploadInterrupted() from None
        while True:
            if item is None:
                self._ended = True
                break
            pieces.append(item)
            gathered += len(item)
            if gathered >= wanted:
                break
            try:
                item = self._receive.receive_nowait()
            except anyio.WouldBlock:
                break
            except anyio.EndOfStream:
                raise UploadInterrupted() from None
        return pieces


async def consume_in_thread(part: Part, work: Callable[[ChannelReader], T]) -> T:
    """Run ``work(reader)`` in a worker thread while feeding it the part's bytes.

    ``work`` may stop reading early (it refused the file); its error is raised here and the rest
    of the part is not read. An error while reading the body is raised as well, after the worker
    has seen the broken channel and given up.
    """
    send, receive = anyio.create_memory_object_stream[bytes | None](max_buffer_size=CHANNEL_CHUNKS)
    reader = ChannelReader(receive)
    outcome: list[T] = []
    worker_error: list[BaseException] = []
    feeder_error: list[BaseException] = []

    async def run_worker() -> None:
        try:
            outcome.append(await anyio.to_thread.run_sync(work, reader))
        # Kept and raised below, outside the task group, which would wrap it in an ExceptionGroup.
        except Exception as error:  # noqa: BLE001
            worker_error.append(error)
        finally:
            await receive.aclose()

    async with anyio.create_task_group() as group:
        group.start_soon(run_worker)
        async with send:
            try:
                async for chunk in part.chunks():
                    await send.send(chunk)
                await send.send(None)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the worker stopped reading; its own error says why
            except PortalError as error:
                feeder_error.append(error)
    if worker_error:
        failure = worker_error[0]
        if feeder_error and isinstance(failure, UploadInterrupted):
            raise feeder_error[0]
        raise failure
    if feeder_error:
        raise feeder_error[0]
    return outcome[0]
