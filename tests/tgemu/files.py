"""Files the Bot API knows by file_id: photos residents send and photos the bot uploads."""

from __future__ import annotations

import io
import secrets
import threading
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram does
THUMBNAIL_SIDES = (90, 320)  # Telegram's "s" and "m" photo sizes


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def as_file(self) -> dict:
        """The Bot API `File` object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class FileStore:
    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def add(self, data: bytes, folder: str = "photos", suffix: str = "jpg") -> StoredFile:
        with self._lock:
            number = len(self._by_id)
            stored = StoredFile(
                file_id="AgAC" + secrets.token_urlsafe(48),
                file_unique_id="AQAD" + secrets.token_urlsafe(9),
                file_path=f"{folder}/file_{number}.{suffix}",
                data=data,
            )
            self._by_id[stored.file_id] = stored
            self._by_path[stored.file_path] = stored
            return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)

    def photo_sizes(
        self, data: bytes, width: int | None = None, height: int | None = None
    ) -> list[dict]:
        """The `photo` array of PhotoSize, smallest first, as Telegram sends it.

        Real images get Telegram-like thumbnails; bytes Pillow cannot read (to test the
        bot's image check) become one size with the given or 1x1 dimensions.
        """
        sizes: list[tuple[bytes, int, int]] = []
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                full = (data, image.width, image.height)
                for side in THUMBNAIL_SIDES:
                    if max(image.size) > side:
                        thumb = image.convert("RGB")
                        thumb.thumbnail((side, side))
                        buffer = io.BytesIO()
                        thumb.save(buffer, "JPEG")
                        sizes.append((buffer.getvalue(), thumb.width, thumb.height))
        except (UnidentifiedImageError, OSError):
            full = (data, 1, 1)
        sizes.append((full[0], width or full[1], height or full[2]))
        result = []
        for blob, w, h in sizes:
            stored = self.add(blob)
            result.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(blob),
                    "width": w,
                    "height": h,
                }
            )
        return result
