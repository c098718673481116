"""Every host follows the city's current grids: `gridintake grids import` on any host stores the
GeoJSON in the media store and bumps the grid version (storage/grids.py); each process asks for
the version at most once every few seconds and, when it moved, fetches the file into its own
data directory and swaps its grid (`GeoService.follow`)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from typing import Any

from geo.grid import GridIndex, SquareGrid
from geo.service import IMPORTED_GRIDS, load_grid
from storage.db import transaction
from storage.grids import current_grids

log = logging.getLogger(__name__)


class GridFollower:
    """`GeoService.follow` for a runtime: None, or the newer grids once per version."""

    def __init__(self, runtime: Any, check_every_s: float) -> None:
        self.runtime = runtime
        self.check_every_s = check_every_s
        self.seen = 0
        self.checked = float("-inf")
        self.lock = threading.Lock()

    def __call__(self) -> GridIndex | SquareGrid | None:
        if time.monotonic() - self.checked < self.check_every_s:
            return None
        with self.lock:
            if time.monotonic() - self.checked < self.check_every_s:
                return None
            self.checked = time.monotonic()
            with transaction(self.runtime.sessions) as session:
                version, key = current_grids(session)
            if version == self.seen or key is None:
                return None
            self.seen = version  # a broken file is not fetched again every few seconds
            try:
                return self._fetch(key)
            except Exception:  # keep locating with the grids we have
                log.exception("cannot load grids version %s (%s); keeping the current ones", version, key)
                return None

    def _fetch(self, key: str) -> GridIndex | SquareGrid:
        data = self.runtime.media.get(key)
        if data is None:
            raise FileNotFoundError(f"{key} is not in the media store")
        data_dir = self.runtime.config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=".grids-", suffix=".geojson", dir=data_dir)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, data_dir / IMPORTED_GRIDS)
        return load_grid(self.runtime.settings.geo)
