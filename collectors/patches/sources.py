"""Reading the collector's inputs: files (by glob, gzip-compressed or not) and the output of
local commands. Everything that can go wrong here becomes a CollectorError naming the file or
command, because the run log is where an operator will look."""

from __future__ import annotations

import glob
import gzip
import os
import subprocess
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from collectors.base import CollectorError

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class RawInput:
    """One input exactly as collected. ``origin`` is the file path or the command line."""

    host: str
    kind: str
    origin: str
    data: bytes
    from_command: bool = False

    @property
    def compressed(self) -> bool:
        return self.data[:2] == _GZIP_MAGIC


def read_globs(host: str, kind: str, patterns: Sequence[str]) -> list[RawInput]:
    """Read every file matching the patterns, each once, in name order. A pattern that
    matches nothing is an error: a configured log that is missing is worth a failed run."""
    seen: set[str] = set()
    inputs: list[RawInput] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern)))
        if not matches:
            raise CollectorError(f"{host}: no file matches {kind} pattern {pattern!r}")
        for match in matches:
            resolved = str(Path(match).resolve())
            if resolved in seen or Path(match).is_dir():
                continue
            seen.add(resolved)
            inputs.append(RawInput(host=host, kind=kind, origin=match, data=_read_file(match)))
    return inputs


def read_file(host: str, kind: str, path: str) -> RawInput:
    return RawInput(host=host, kind=kind, origin=path, data=_read_file(os.path.expanduser(path)))


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise CollectorError(f"cannot read {path}: {error.strerror or error}") from None


def run_command(host: str, kind: str, argv: Sequence[str], timeout: float) -> RawInput:
    """Run a local command with a C locale (apt translates its output otherwise) and return
    its stdout; a non-zero exit, a timeout or a missing program fails the run."""
    shown = " ".join(argv)
    environment = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        completed = subprocess.run(list(argv), capture_output=True, timeout=timeout, env=environment, check=False)
    except FileNotFoundError:
        raise CollectorError(f"{host}: command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise CollectorError(f"{host}: {shown!r} did not finish within {timeout:g} s") from None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip()[-500:]
        raise CollectorError(f"{host}: {shown!r} exited with {completed.returncode}: {stderr}")
    return RawInput(host=host, kind=kind, origin=shown, data=completed.stdout, from_command=True)


def decompressed(raw: RawInput) -> bytes:
    """The bytes of a file, gunzipped when it is gzip data (rotated logs, by content rather
    than by name, since logrotate's naming is configurable)."""
    if not raw.compressed:
        return raw.data
    try:
        return gzip.decompress(raw.data)
    except (EOFError, OSError, zlib.error) as error:
        raise CollectorError(f"{raw.origin}: corrupt or truncated gzip data ({error})") from None


def decode_text(raw: RawInput, data: bytes) -> str:
    """UTF-8 text, or UTF-16 when a byte-order mark says so (Windows PowerShell 5.1 writes
    UTF-16 LE when output is redirected to a file)."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CollectorError(
            f"{raw.origin}: not text in the expected encoding ({error.reason} at byte {error.start})"
        ) from None


def write_raw_bundle(inputs: Sequence[RawInput], destination: Path, mtime: datetime) -> Path:
    """Bundle the inputs, bytes unchanged, as a gzip-compressed tar: ``<host>/<kind>/<file>``
    for files and ``<host>/<kind>.stdout`` for command output."""
    used: set[str] = set()
    with tarfile.open(destination, "w:gz", format=tarfile.PAX_FORMAT) as bundle:
        for raw in inputs:
            name = _member_name(raw, used)
            info = tarfile.TarInfo(name)
            info.size = len(raw.data)
            info.mtime = int(mtime.timestamp())
            info.mode = 0o644
            info.pax_headers = {"comment": raw.origin}
            bundle.addfile(info, BytesIO(raw.data))
    return destination


def _member_name(raw: RawInput, used: set[str]) -> str:
    if raw.from_command:
        base = f"{raw.host}/{raw.kind}.stdout"
    else:
        base = f"{raw.host}/{raw.kind}/{Path(raw.origin).name}"
    name, counter = base, 1
    while name in used:
        counter += 1
        name = f"{base}.{counter}"
    used.add(name)
    return name
