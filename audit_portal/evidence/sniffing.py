"""What an uploaded file really is, judged from its first bytes, and a safe name for it.

The client's ``Content-Type`` is never trusted: it is whatever the browser or script guessed.
The type recorded with the evidence comes from the bytes themselves (magic numbers, with
puremagic for the long tail); the file name only refines plain text into CSV, JSON or Markdown,
which changes how it is previewed, never whether it is rendered as markup.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

import puremagic

from audit_portal.errors import InvalidInput

HEAD_BYTES = 8192
"""How much of the start of a file the sniffer sees; enough for every signature used here."""

MAX_FILENAME_LENGTH = 255

OCTET_STREAM = "application/octet-stream"

# Executables by signature. A PE file starts with "MZ"; Mach-O has four magic numbers.
_EXECUTABLE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/vnd.microsoft.portable-executable"),
    (b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"#!", "text/x-script"),
)

# Names that Windows (or a shell) runs when opened, whatever their bytes look like.
_EXECUTABLE_EXTENSIONS = frozenset({
    ".exe", ".dll", ".com", ".scr", ".msi", ".bat", ".cmd", ".ps1", ".vbs", ".vbe", ".js",
    ".jse", ".wsf", ".hta", ".sh", ".jar", ".lnk", ".cpl", ".pif", ".reg",
})

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)

_TEXT_BY_EXTENSION = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".md": "text/markdown",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}

# Markup a browser would execute or style if shown inline; always served as a download.
_MARKUP_STARTS = ("<!doctype html", "<html", "<head", "<body", "<script", "<iframe")

# Office documents are zip files; their extension names the real type.
_ZIP_CONTAINERS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}

HTML = "text/html"
SVG = "image/svg+xml"
NEVER_INLINE = frozenset({HTML, SVG, "application/xhtml+xml", "application/xml"})
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_PREVIEW = frozenset({"text/plain", "text/csv", "application/json", "text/markdown", "application/yaml"})


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    executable: bool


def sanitise_filename(name: str | None) -> str:
    """The file's own name, refused when it carries a path or control characters.

    A name with path parts is refused rather than trimmed: it tells of a client that sends
    something else than a file's name, and silently keeping the last part would hide that.
    """
    if name is None or not name.strip():
        raise InvalidInput("The file has no name; send the file's original name with it.")
    name = unicodedata.normalize("NFC", name).strip()
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise InvalidInput("The file name contains control characters; rename the file and try again.")
    if "/" in name or "\\" in name or name in (".", "..") or (len(name) > 1 and name[1] == ":"):
        raise InvalidInput(
            f"The file name {name!r} contains path parts; send only the file's own name."
        )
    if len(name) > MAX_FILENAME_LENGTH:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_FILENAME_LENGTH - len(suffix)] + suffix
    return name


def extension_of(filename: str) -> str:
    return PurePosixPath(filename.lower()).suffix


def sniff(head: bytes, filename: str) -> Sniffed:
    """The content type of a file starting with ``head``, and whether it is a program."""
    if not head:
        return Sniffed(OCTET_STREAM, executable=False)
    for signature, content_type in _EXECUTABLE_SIGNATURES:
        if head.startswith(signature):
            return Sniffed(content_type, executable=True)
    extension = extension_of(filename)
    if extension in _EXECUTABLE_EXTENSIONS:
        return Sniffed(_sniff_content(head, extension), executable=True)
    return Sniffed(_sniff_content(head, extension), executable=False)


def _sniff_content(head: bytes, extension: str) -> str:
    for signature, content_type in _BINARY_SIGNATURES:
        if head.startswith(signature):
            if content_type == "application/zip":
                return _ZIP_CONTAINERS.get(extension, content_type)
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    text = _as_text(head)
    if text is not None:
        return _text_type(text, extension)
    return _magic_type(head)


def _as_text(head: bytes) -> str | None:
    """The head decoded as UTF-8 (a multi-byte character cut at the end is allowed), or None
    when it holds bytes no text file has."""
    if b"\x00" in head:
        return None
    for cut in range(4):
        try:
            return head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    try:
        # Latin-1 text from older tools: printable characters and whitespace only.
        text = head.decode("latin-1")
    except UnicodeDecodeError:
        return None
    if all(char.isprintable() or char in "\r\n\t\f" for char in text):
        return text
    return None


def _text_type(text: str, extension: str) -> str:
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith(_MARKUP_STARTS):
        return HTML
    if "<svg" in start[:1024] and start.startswith(("<svg", "<?xml")):
        return SVG
    if start.startswith("<?xml"):
        return "application/xml"
    claimed = _TEXT_BY_EXTENSION.get(extension)
    if claimed == "application/json" and not start.startswith(("{", "[")):
        return "text/plain"
    if claimed == "application/json" and len(text) < HEAD_BYTES:
        try:
            json.loads(text)
        except ValueError:
            return "text/plain"
    return claimed or "text/plain"


def _magic_type(head: bytes) -> str:
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return OCTET_STREAM
    for match in matches:
        if match.mime_type:
            return match.mime_type.lower()
    return OCTET_STREAM


def previewable_inline(content_type: str) -> bool:
    """Whether the raw bytes may be shown by the browser itself (images, PDF)."""
    return content_type in INLINE_IMAGES or content_type == "application/pdf"
