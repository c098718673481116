"""Residents' data on disk is readable by the service's user only: what `gridintake` writes
(database, photos and their shared copies, the secret key) is 0600 in 0700 folders."""

from __future__ import annotations

import io
import os
import stat
import subprocess

from PIL import Image

from storage.media import LocalStore
from tests.support.processes import GRIDINTAKE


def test_what_the_cli_writes_is_private(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDINTAKE_")}
    env["GRIDINTAKE_DATA_DIR"] = str(tmp_path / "var")
    photo = tmp_path / "photo.jpg"
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(out, format="JPEG")
    photo.write_bytes(out.getvalue())
    subprocess.run([str(GRIDINTAKE), "db", "upgrade"], env=env, check=True, capture_output=True)
    report = ["report", "--text", "九州路与淇滨大道路口的井盖丢了", "--photo", str(photo)]
    subprocess.run([str(GRIDINTAKE), *report], env=env, check=True, capture_output=True, timeout=120)
    made = list((tmp_path / "var").rglob("*"))
    assert any(p.suffix == ".jpg" for p in made)
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_the_local_media_store_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        LocalStore(tmp_path).put("photos/ab/x.jpg", b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "photos" / "ab" / "x.jpg").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "photos" / "ab").stat().st_mode) == 0o700
