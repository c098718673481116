"""Residents' photos: checked from the header before any decoding, decoded in a bounded way,
stored by hash, GPS read, and shared only as a re-encoded copy without metadata.

A photo is refused before decoding when its format is not JPEG, PNG or WebP (HEIC too when the
`pillow-heif` plugin is installed), or when its header declares more pixels than the format's
limit. Pillow's own bomb check only warns between 1× and 2× its limit, so it is not relied on.
JPEG decodes at a reduced scale (draft mode), so large camera photos cost little memory; PNG,
WebP and HEIC decode whole, so their limit is lower. The shared copy is at most
`SHARED_MAX_SIDE` pixels on its long side (JPEG: between half of it and all of it)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

try:  # HEIC (iPhone photos) only where the plugin is installed
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - depends on the deployment
    register_heif_opener = None
else:
    register_heif_opener()

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                   **({"HEIF": "image/heic"} if register_heif_opener else {})}
# JPEG decodes at 1/1 to 1/8 scale (draft), so its limit is on the header alone. The others
# decode whole: Pillow keeps 1 byte a pixel for bilevel, grey and palette images and 4 for the
# rest, and shrinking an image with alpha makes a premultiplied copy. The limits keep one
# photo's peak under 100 MB (bench/photos.py measures it): 8192² grey, 4000×3000 RGB, 8 MP RGBA.
JPEG_MAX_PIXELS = 64_000_000
ONE_BYTE_MAX_PIXELS = 8192 * 8192
RGB_MAX_PIXELS = 12_000_000
OTHER_MAX_PIXELS = 8_000_000
ONE_BYTE_MODES = ("1", "L", "P")
SHARED_MAX_SIDE = 2048
# Pillow's own check at open(): above 2× this it raises, which only backs ours up.
Image.MAX_IMAGE_PIXELS = JPEG_MAX_PIXELS


class BadPhoto(ValueError):
    """Not an image we accept (wrong type, too large, truncated)."""


@dataclass(frozen=True)
class StoredPhoto:
    path: Path
    shared_path: Path  # the copy without EXIF, safe to forward
    sha256: str
    mime: str
    size: int
    width: int
    height: int
    gps: tuple[float, float] | None  # WGS-84 from EXIF


def _dms_to_degrees(dms, ref: str) -> float:
    degrees = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    return -degrees if ref in ("S", "W") else degrees


def exif_gps(image: Image.Image) -> tuple[float, float] | None:
    """The WGS-84 point in the photo's EXIF GPS block, if any (read from the header only)."""
    gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    try:
        tag = ExifTags.GPS
        lat = _dms_to_degrees(gps[tag.GPSLatitude], gps.get(tag.GPSLatitudeRef, "N"))
        lon = _dms_to_degrees(gps[tag.GPSLongitude], gps.get(tag.GPSLongitudeRef, "E"))
    except (KeyError, IndexError, TypeError, ZeroDivisionError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return lat, lon


def pixel_limit(image: Image.Image) -> int:
    """The most pixels this header may declare, by format and mode."""
    if image.format == "JPEG":
        return JPEG_MAX_PIXELS
    if image.mode in ONE_BYTE_MODES:
        return ONE_BYTE_MAX_PIXELS
    return RGB_MAX_PIXELS if image.mode == "RGB" else OTHER_MAX_PIXELS


def check_header(image: Image.Image) -> None:
    """Refuse by format and declared size, before a single pixel is decoded."""
    if image.format not in ALLOWED_FORMATS:
        raise BadPhoto(f"image format {image.format} is not accepted")
    limit = pixel_limit(image)
    if image.width * image.height > limit:
        raise BadPhoto(f"{image.width}×{image.height} is over the {limit}-pixel limit")


def _save_without_metadata(image: Image.Image, target: Path) -> None:
    """Decode at most SHARED_MAX_SIDE on the long side (JPEG: in draft mode) and save only the
    pixels, so no EXIF (GPS, device), comment or profile travels onwards."""
    png = image.format == "PNG"
    # JPEG: the smallest scale (1/1 … 1/8) that keeps half the shared size, then shrink.
    image.draft("RGB", (SHARED_MAX_SIDE // 2, SHARED_MAX_SIDE // 2))
    image.thumbnail((SHARED_MAX_SIDE, SHARED_MAX_SIDE), reducing_gap=None)
    if png:
        pixels = image if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA") else image.convert("RGBA")
    else:
        pixels = image if image.mode in ("L", "RGB") else image.convert("RGB")
    pixels.info = {}
    pixels.save(target, format="PNG" if png else "JPEG", quality=88)


def store_photo(data: bytes, directory: Path, max_bytes: int) -> StoredPhoto:
    if not data:
        raise BadPhoto("empty file")
    if len(data) > max_bytes:
        raise BadPhoto(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadPhoto(f"not an accepted image: {exc}") from None
    with image:
        check_header(image)
        digest = hashlib.sha256(data).hexdigest()
        folder = directory / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        shared = folder / f"{digest}{'.png' if image.format == 'PNG' else '.jpg'}"
        partial = shared.with_suffix(".part")
        try:
            fmt, width, height, gps = image.format, image.width, image.height, exif_gps(image)
            if not shared.exists():
                _save_without_metadata(image, partial)
                partial.replace(shared)
        except (OSError, EOFError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            partial.unlink(missing_ok=True)
            raise BadPhoto(f"not a readable image: {exc}") from None
    path = folder / f"{digest}.orig"
    if not path.exists():
        path.write_bytes(data)
    return StoredPhoto(path=path, shared_path=shared, sha256=digest, mime=ALLOWED_FORMATS[fmt],
                       size=len(data), width=width, height=height, gps=gps)
