"""What an uploaded file is, decided from its bytes, and how it may be served from our origin.

Uploads are served from the server's own origin to anyone with the link, so what a client claims
(its Content-Type, the file name's extension) never decides the type: a file is one of the
formats below, recognised by its signature, or UTF-8 text that does not look like markup, or it
is refused. SVG, HTML, XML and script are none of these, so they can never be stored as an image
or a page. Serving is a second line of defence for files stored before this check existed: the
type is decided again from the stored bytes, only raster images, audio and video are shown
inline, and every file carries a sandboxing Content-Security-Policy and ``nosniff``.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse

# Each type we accept, with the file name extensions a download of it may keep.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "image/heic": ("heic",),
    "image/heif": ("heif",),
    "application/pdf": ("pdf",),
    "video/mp4": ("mp4", "m4v"),
    "video/quicktime": ("mov", "qt"),
    "video/3gpp": ("3gp", "3g2"),
    "video/webm": ("webm",),
    "audio/mpeg": ("mp3",),
    "audio/aac": ("aac",),
    "audio/mp4": ("m4a", "m4b"),
    "audio/ogg": ("ogg", "oga", "opus"),
    "audio/wav": ("wav",),
    "audio/amr": ("amr",),
    "audio/amr-wb": ("awb", "amr"),
    "text/plain": ("txt", "log", "csv", "md"),
}

# Shown in the browser rather than downloaded: media a browser renders without running anything
# of the file's. PDF is a download: viewers run the scripts a PDF may carry, and Chrome's viewer
# does not open under a sandboxing CSP anyway.
INLINE = frozenset(t for t in EXTENSIONS if t.split("/", 1)[0] in ("image", "audio", "video"))

# Every served upload: no script, no plugin, no same-origin access, whatever the browser makes
# of the bytes; and no second-guessing of the declared type.
SERVED_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}

HEAD_BYTES = 4096  # what serving re-reads to decide a stored file's type
UNKNOWN = "application/octet-stream"

# ISO base media files (MP4 and its kin) name their flavour in the major brand of the ``ftyp``
# box; any other brand is served as video/mp4.
ISO_BRANDS = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic",
    b"hevx": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
}

# Text that a browser (or a careless viewer) could take for a page, an image or a script.
MARKUP = re.compile(
    rb"^\s*<|<\s*(?:!doctype|\?xml|/?\s*(?:html|head|body|script|svg|iframe|frame|object|embed"
    rb"|meta|link|style|img|math|xml)\b)",
    re.IGNORECASE,
)


def sniff(data: bytes, *, complete: bool = True) -> str | None:
    """The type of a file from its bytes, among those uploads may have; None for anything else.

    ``complete`` is False when ``data`` is only the start of the file: text may then end in a
    character cut in two.
    """
    binary = _signature(data)
    if binary is not None:
        return binary
    return "text/plain" if _is_plain_text(data, complete) else None


def _signature(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF"):
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(head[8:12])
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video/3gpp" if brand.startswith(b"3g") else ISO_BRANDS.get(brand, "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:  # EBML, doctype webm
        return "video/webm"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR\n"):
        return "audio/amr"
    if head.startswith(b"#!AMR-WB\n"):
        return "audio/amr-wb"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    return _audio_frame(head)


def _audio_frame(head: bytes) -> str | None:
    """MPEG audio and ADTS AAC streams start with a frame whose 11 or 12 first bits are set."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0b11
    if layer == 0:  # ADTS: a 12-bit sync word and the layer bits always 0
        return "audio/aac" if head[1] & 0xF0 == 0xF0 else None
    return "audio/mpeg"


def _is_plain_text(data: bytes, complete: bool) -> bool:
    if not data or b"\x00" in data:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError:
        return False
    return MARKUP.search(data.removeprefix(codecs.BOM_UTF8)) is None


def served_type(path: Path) -> str:
    """The type to serve a stored file as, from its bytes: never what was stored beside it."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    return sniff(head, complete=len(head) < HEAD_BYTES) or UNKNOWN


def disposition(content_type: str) -> str:
    return "inline" if content_type in INLINE else "attachment"


def safe_filename(name: str | None, content_type: str, default: str = "file") -> str:
    """A download name: no path, only plain characters, ending in an extension of its type."""
    base = Path(name or default).name
    cleaned = re.sub(r"[^\w.\- ]", "_", base).strip(" .") or default
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    extensions = EXTENSIONS.get(content_type, ())
    if extensions and suffix.lower() not in extensions:
        stem, suffix = cleaned, extensions[0]  # pic.html holding a PNG downloads as pic.html.png
    return f"{stem[:100]}.{suffix[:16]}" if suffix else stem[:120]


async def served_file(blob: Path, filename: str | None, cache_control: str) -> FileResponse:
    """A stored file as served to browsers: typed from its bytes (decided again on every
    request, so files stored by earlier releases with a bad type are served right), inline only
    for types that cannot run, with the headers of ``SERVED_HEADERS``."""
    content_type = await run_in_threadpool(served_type, blob)
    return FileResponse(
        blob,
        media_type=content_type,
        filename=safe_filename(filename, content_type),
        content_disposition_type=disposition(content_type),
        headers={
            **SERVED_HEADERS,
            "Cache-Control": cache_control,
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )
