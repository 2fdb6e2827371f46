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
from audit_portal.i18n import N_

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
_EXECUTABLE_EXTENSIONS = frozenset(
    {
        ".exe",
        ".dll",
        ".com",
        ".scr",
        ".msi",
        ".bat",
        ".cmd",
        ".ps1",
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".wsf",
        ".hta",
        ".sh",
        ".jar",
        ".lnk",
        ".cpl",
        ".pif",
        ".reg",
    }
)

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


@dataclass(frozen=True)
class CleanName:
    """A file name fit to store and show, and what the client sent when that differs."""

    name: str
    submitted: str | None  # the name as sent, when invisible characters were removed from it


_ZERO_WIDTH_JOINER = "\u200d"


def _invisible(name: str, index: int) -> bool:
    """Format characters (bidi overrides, zero-width spaces, soft hyphens) change how a name
    reads without being seen, so ``invoice\u202efdp.exe`` shows as ``invoiceexe.pdf``. A
    zero-width joiner between two symbols is part of an emoji sequence and stays."""
    char = name[index]
    if unicodedata.category(char) != "Cf":
        return False
    if char == _ZERO_WIDTH_JOINER and 0 < index < len(name) - 1:
        before, after = name[index - 1], name[index + 1]
        # An emoji may carry a variation selector (Mn) before the joiner.
        if before == "\ufe0f" and index > 1:
            before = name[index - 2]
        return not (unicodedata.category(before) == "So" and unicodedata.category(after) == "So")
    return True


def clean_filename(name: str | None) -> CleanName:
    """The file's own name, NFC-normalised, with invisible format characters removed.

    Any script is welcome (Dutch, Polish, Cyrillic, CJK, emoji). A name with path parts or
    control characters is refused rather than trimmed: it tells of a client that sends something
    else than a file's name, and silently keeping the last part would hide that.
    """
    if name is None or not name.strip():
        raise InvalidInput(N_("The file has no name; send the file's original name with it."))
    submitted = unicodedata.normalize("NFC", name).strip()
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in submitted):
        raise InvalidInput(N_("The file name contains control characters; rename the file and try again."))
    visible = "".join(char for index, char in enumerate(submitted) if not _invisible(submitted, index)).strip()
    if not visible:
        raise InvalidInput(N_("The file name consists of invisible characters only; rename the file."))
    if "/" in visible or "\\" in visible or visible in (".", "..") or (len(visible) > 1 and visible[1] == ":"):
        raise InvalidInput(
            N_("The file name '%(name)s' contains path parts; send only the file's own name."), values={"name": visible}
        )
    if len(visible) > MAX_FILENAME_LENGTH:
        suffix = PurePosixPath(visible).suffix[:16]
        visible = visible[: MAX_FILENAME_LENGTH - len(suffix)] + suffix
    return CleanName(visible, submitted[:1000] if visible != submitted else None)


def sanitise_filename(name: str | None) -> str:
    """The name :func:`clean_filename` keeps."""
    return clean_filename(name).name


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
