"""A stored (uncompressed) ZIP archive written as a stream, its exact length known before the first
byte, in memory that does not grow with the number of members.

Each member is written as a local header, its bytes and a data descriptor carrying the CRC-32
(computed on the way, so the body is read once). The central directory is spooled to a temporary
file as the members go out and copied at the end, so what the writer holds is one chunk and a
fixed-size record, whatever the number of members. ZIP64 records are used only where a size, an
offset or the member count needs them, as PKWARE's APPNOTE 4.3.9 / 4.5.3 describe.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

ZIP32_LIMIT = 0xFFFFFFFF
ZIP32_COUNT_LIMIT = 0xFFFF
_FLAGS = 0x0008 | 0x0800  # sizes and CRC in a data descriptor; names are UTF-8
_VERSION = 20
_VERSION_ZIP64 = 45
_MADE_BY_UNIX = 3 << 8
_REGULAR_FILE = 0o100644 << 16

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_LOCAL_ZIP64_EXTRA = struct.Struct("<HHQQ")
_DESCRIPTOR = struct.Struct("<IIII")
_DESCRIPTOR_ZIP64 = struct.Struct("<IIQQ")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END_ZIP64 = struct.Struct("<IQHHIIQQQQ")
_END_ZIP64_LOCATOR = struct.Struct("<IIQI")
_COPY_CHUNK = 1024 * 1024


def _needs_zip64_body(size: int) -> bool:
    return size >= ZIP32_LIMIT


def _central_extra_fields(size: int, offset: int) -> int:
    return (2 if _needs_zip64_body(size) else 0) + (1 if offset >= ZIP32_LIMIT else 0)


class ZipLayout:
    """The archive's length, added up member by member from names and sizes alone."""

    def __init__(self) -> None:
        self.offset = 0
        self.central_size = 0
        self.count = 0

    def add(self, name: str, size: int) -> None:
        name_length = len(name.encode("utf-8"))
        big = _needs_zip64_body(size)
        fields = _central_extra_fields(size, self.offset)
        self.central_size += _CENTRAL.size + name_length + (4 + 8 * fields if fields else 0)
        self.offset += (
            _LOCAL.size
            + name_length
            + (_LOCAL_ZIP64_EXTRA.size if big else 0)
            + size
            + (_DESCRIPTOR_ZIP64.size if big else _DESCRIPTOR.size)
        )
        self.count += 1

    @property
    def length(self) -> int:
        zip64_end = self.count >= ZIP32_COUNT_LIMIT or self.central_size >= ZIP32_LIMIT or self.offset >= ZIP32_LIMIT
        end = _END.size + (_END_ZIP64.size + _END_ZIP64_LOCATOR.size if zip64_end else 0)
        return self.offset + self.central_size + end


@dataclass(frozen=True)
class Member:
    """One member: its name, its size (known beforehand) and its bytes, produced when reached."""

    name: str
    size: int
    chunks: Iterable[bytes]


class ArchiveSizeMismatch(RuntimeError):
    """What was written differs from the announced length: a member's source lied about its size."""


def _dos_time(moment: datetime) -> tuple[int, int]:
    year = min(max(moment.year, 1980), 2107)
    date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return time, date


def write_stored_zip(members: Iterable[Member], modified: datetime, expected_length: int) -> Iterator[bytes]:
    """The archive of ``members`` as byte chunks; stops with ``ArchiveSizeMismatch`` rather than
    end an archive whose length differs from ``expected_length`` (the announced Content-Length)."""
    time, date = _dos_time(modified)
    offset = 0
    count = 0
    with tempfile.TemporaryFile(prefix="audit-portal-zip-central-") as central:
        for member in members:
            name = member.name.encode("utf-8")
            big = _needs_zip64_body(member.size)
            version = _VERSION_ZIP64 if big else _VERSION
            header = (
                _LOCAL.pack(
                    0x04034B50,
                    version,
                    _FLAGS,
                    0,
                    time,
                    date,
                    0,
                    ZIP32_LIMIT if big else 0,
                    ZIP32_LIMIT if big else 0,
                    len(name),
                    _LOCAL_ZIP64_EXTRA.size if big else 0,
                )
                + name
                + (_LOCAL_ZIP64_EXTRA.pack(0x0001, 16, 0, 0) if big else b"")
            )
            yield header
            crc = 0
            written = 0
            for chunk in member.chunks:
                crc = zlib.crc32(chunk, crc)
                written += len(chunk)
                yield chunk
            if written != member.size:
                raise ArchiveSizeMismatch(f"{member.name}: announced {member.size} bytes, read {written}")
            yield (
                _DESCRIPTOR_ZIP64.pack(0x08074B50, crc, written, written)
                if big
                else _DESCRIPTOR.pack(0x08074B50, crc, written, written)
            )
            central.write(_central_record(name, member.size, crc, offset, time, date))
            offset += len(header) + written + (_DESCRIPTOR_ZIP64.size if big else _DESCRIPTOR.size)
            count += 1
        central_size = central.tell()
        central.seek(0)
        while chunk := central.read(_COPY_CHUNK):
            yield chunk
    end = _end_records(count, central_size, offset)
    if offset + central_size + len(end) != expected_length:
        raise ArchiveSizeMismatch(
            f"the archive came to {offset + central_size + len(end)} bytes, {expected_length} were announced"
        )
    yield end


def _central_record(name: bytes, size: int, crc: int, offset: int, time: int, date: int) -> bytes:
    big = _needs_zip64_body(size)
    far = offset >= ZIP32_LIMIT
    extra_values = ([size, size] if big else []) + ([offset] if far else [])
    extra = (
        struct.pack(f"<HH{len(extra_values)}Q", 0x0001, 8 * len(extra_values), *extra_values) if extra_values else b""
    )
    version = _VERSION_ZIP64 if extra_values else _VERSION
    return (
        _CENTRAL.pack(
            0x02014B50,
            _MADE_BY_UNIX | _VERSION_ZIP64,
            version,
            _FLAGS,
            0,
            time,
            date,
            crc,
            ZIP32_LIMIT if big else size,
            ZIP32_LIMIT if big else size,
            len(name),
            len(extra),
            0,
            0,
            0,
            _REGULAR_FILE,
            ZIP32_LIMIT if far else offset,
        )
        + name
        + extra
    )


def _end_records(count: int, central_size: int, central_offset: int) -> bytes:
    zip64 = count >= ZIP32_COUNT_LIMIT or central_size >= ZIP32_LIMIT or central_offset >= ZIP32_LIMIT
    records = b""
    if zip64:
        zip64_end_offset = central_offset + central_size
        records += _END_ZIP64.pack(
            0x06064B50,
            _END_ZIP64.size - 12,
            _MADE_BY_UNIX | _VERSION_ZIP64,
            _VERSION_ZIP64,
            0,
            0,
            count,
            count,
            central_size,
            central_offset,
        )
        records += _END_ZIP64_LOCATOR.pack(0x07064B50, 0, zip64_end_offset, 1)
    records += _END.pack(
        0x06054B50,
        0,
        0,
        min(count, ZIP32_COUNT_LIMIT),
        min(count, ZIP32_COUNT_LIMIT),
        min(central_size, ZIP32_LIMIT),
        min(central_offset, ZIP32_LIMIT),
        0,
    )
    return records


def file_chunks(descriptor: int, size: int, chunk_size: int = _COPY_CHUNK) -> Iterator[bytes]:
    """``size`` bytes of an open file from its start, read by position (so several readers of the
    same spooled file never disturb one another)."""
    position = 0
    while position < size:
        chunk = os.pread(descriptor, min(chunk_size, size - position), position)
        if not chunk:
            break
        position += len(chunk)
        yield chunk
