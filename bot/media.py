"""Residents' photos into the shared media store (storage/media.py), so that any gateway of the
city serves a photo another one received."""

from __future__ import annotations

from pathlib import Path

from bot.photos import StoredPhoto, store_photo
from storage.media import LocalStore, MediaStore, photo_key


def keep_photo(store: MediaStore, data: bytes, directory: Path, max_bytes: int) -> StoredPhoto:
    """Check and store a photo as `store_photo` does (raises `BadPhoto`), then put its shared,
    EXIF-free copy in the media store under `photo_key`. The original with its EXIF stays on
    this host; the inbox keeps the raw bytes in the store for a retry elsewhere."""
    stored = store_photo(data, directory, max_bytes)
    key = photo_key(stored.sha256, stored.shared_path.suffix)
    written_there = isinstance(store, LocalStore) and store.path(key) == stored.shared_path
    if not written_there and not store.exists(key):
        store.put(key, stored.shared_path.read_bytes())
    return stored
