"""Residents' photos: verified as images, stored by hash, GPS read, EXIF stripped for sharing."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 60_000_000


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
    """The WGS-84 point in the photo's EXIF GPS block, if any."""
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


def _save_without_metadata(image: Image.Image, target: Path) -> None:
    """Rebuild the picture from its pixels alone, so no EXIF (GPS, device) travels onwards."""
    pixels = image.convert("RGBA" if image.format == "PNG" else "RGB")
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    clean.save(target, format="PNG" if image.format == "PNG" else "JPEG", quality=88)


def store_photo(data: bytes, directory: Path, max_bytes: int) -> StoredPhoto:
    if not data:
        raise BadPhoto("empty file")
    if len(data) > max_bytes:
        raise BadPhoto(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadPhoto(f"not a readable image: {exc}") from None
    if image.format not in ALLOWED_FORMATS:
        raise BadPhoto(f"image format {image.format} is not accepted")
    digest = hashlib.sha256(data).hexdigest()
    folder = directory / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.orig"
    if not path.exists():
        path.write_bytes(data)
    shared = folder / f"{digest}{'.png' if image.format == 'PNG' else '.jpg'}"
    if not shared.exists():
        _save_without_metadata(image, shared)
    return StoredPhoto(
        path=path, shared_path=shared, sha256=digest, mime=ALLOWED_FORMATS[image.format],
        size=len(data), width=image.width, height=image.height, gps=exif_gps(image),
    )
