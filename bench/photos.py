"""Peak memory and time to take one resident's photo: the 10950×10950 PNG bomb of the security
report, camera JPEGs and PNGs at each limit, each in a fresh process, against the same
process doing nothing but importing Pillow and gridintake (the baseline of the same run).
Target (issue 17): no photo raises a worker's peak by more than 100 MB.

    .venv/bin/python bench/photos.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.images import photo, png_bomb

CASES = {
    "baseline (imports only)": lambda: b"",
    "PNG bomb 10950×10950 (120 MP)": png_bomb,
    "JPEG 4000×3000 camera photo": lambda: photo("JPEG", (4000, 3000)),
    "JPEG 8000×6000 (48 MP)": lambda: photo("JPEG", (8000, 6000)),
    "PNG 4000×3000 RGB (the RGB limit)": lambda: photo("PNG", (4000, 3000), mode="RGB"),
    "PNG 4000×2000 RGBA (the RGBA limit)": lambda: photo("PNG", (4000, 2000), mode="RGBA"),
    "PNG 8192×8192 grey (the grey limit)": lambda: photo("PNG", (8192, 8192), mode="L"),
}

PROBE = """
import sys, time
from pathlib import Path
from bot.photos import BadPhoto, store_photo
def hwm():  # this process's peak resident size in KiB (VmHWM: per process, unlike ru_maxrss)
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM"))
    return int(line.split()[1])
source = Path(sys.argv[2])
data = source.read_bytes() if source.stat().st_size else None
before = hwm()
started = time.perf_counter()
outcome = "none"
if data is not None:
    try:
        outcome = "stored {0.width}x{0.height}".format(store_photo(data, Path(sys.argv[1]), 10 << 20))
    except BadPhoto as exc:
        outcome = "refused: " + str(exc)
elapsed = time.perf_counter() - started
peak = hwm()
print(f"{len(data or b''):>9,} bytes  peak {peak / 1024:6.1f} MiB  (+{(peak - before) / 1024:5.1f})  "
      f"{elapsed * 1000:7.1f} ms  {outcome}")
"""


def main() -> int:
    for name, make in CASES.items():
        with tempfile.TemporaryDirectory() as store:
            source = Path(store) / "upload"
            source.write_bytes(make())
            result = subprocess.run([sys.executable, "-c", PROBE, store, str(source)],
                                    capture_output=True, text=True, check=True)
        print(f"{name:<34} {result.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
