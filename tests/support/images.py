"""Pictures made in the test: ordinary photos and a PNG decompression bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 90).save(out, format=fmt)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 10950, height: int | None = None) -> bytes:
    """A valid 1-bit greyscale PNG of white pixels: a few kilobytes on the wire, 120 megapixels
    (10950×10950) at the default once decoded."""
    height = width if height is None else height
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte 0, then the packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
