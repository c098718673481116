"""Trained models shared through the media store (storage/media.py), so that a model retrained
on one host is used by every host: the directory is packed as `models/<name>.tar.gz` when it is
trained or activated, and unpacked into this host's `DATA_DIR/models/<name>` the first time it is
needed here (activation, or the classifier following the active version)."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

NAME = re.compile(r"model-[0-9A-Za-z_-]+")


def archive_key(name: str) -> str:
    return f"models/{name}.tar.gz"


def models_dir(runtime: Any) -> Path:
    return runtime.config.data_dir / "models"


def publish(runtime: Any, model_dir: Path) -> str:
    """Pack a trained model directory into the media store (a no-op when it is there already:
    a name is a training's time stamp and never changes its files afterwards)."""
    key = archive_key(model_dir.name)
    if not runtime.media.exists(key):
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w:gz", compresslevel=6) as tar:
            tar.add(model_dir, arcname=model_dir.name)
        runtime.media.put(key, packed.getvalue())
    return key


def local_copy(runtime: Any, name: str) -> Path | None:
    """This host's directory of a trained model by name, unpacked from the media store when
    another host trained it; None when the name is not a model's or no host has it."""
    if not NAME.fullmatch(name):
        return None
    target = models_dir(runtime) / name
    if (target / "config.cfg").is_file():
        return target
    packed = runtime.media.get(archive_key(name))
    if packed is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as work, \
            tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
        tar.extractall(work, filter="data")  # no links or paths out of `work`
        unpacked = Path(work) / name
        if not (unpacked / "config.cfg").is_file():
            return None
        try:
            unpacked.rename(target)  # atomic: a concurrent worker's copy wins just as well
        except OSError:
            if not (target / "config.cfg").is_file():
                raise
            shutil.rmtree(unpacked, ignore_errors=True)
    return target
