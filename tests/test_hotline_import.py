"""`gridintake transcripts import FILE.csv`: a report line per row, nothing dropped silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from storage.db import transaction
from storage.models import Case, Outbox
from tests.conftest import make_runtime

CSV = Path(__file__).parent / "fixtures" / "hotline" / "calls.csv"
GRIDINTAKE = Path(sys.executable).with_name("gridintake")


def run_import(tmp_path, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run([str(GRIDINTAKE), "transcripts", "import", str(path)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_reports_every_row_and_keeps_going(tmp_path):
    runtime = make_runtime(tmp_path / "var")
    done = run_import(tmp_path, CSV)
    assert done.returncode == 1, done.stderr  # some rows failed, after every row was tried
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    rows, totals = lines[:-1], lines[-1]["totals"]
    data_rows = len(CSV.read_text("utf-8").splitlines()) - 1
    assert len(rows) == data_rows
    by_call = {(r["line"], r["call_id"]): r for r in rows}
    results = [r["result"] for r in rows]
    assert results[:4] == ["created", "created", "created", "duplicate"]
    assert rows[3]["case"] == rows[0]["case"]
    reasons = {r["line"]: r.get("reason", "") for r in rows if r["result"] == "error"}
    assert "call_id is required" in reasons[6]
    assert "no words from the caller" in reasons[7]
    assert "not a phone number" in reasons[8]
    assert "unknown label" in reasons[9]
    assert "consent_sms" in reasons[10]
    assert "wrong number of columns" in reasons[11]
    assert "call_id" in reasons[12] or "transcript" in reasons[12]
    assert totals == {"created": 3, "duplicate": 1, "referral": 0, "error": 7}
    assert by_call[(4, "C-1003")]["grid_code"].startswith("410611")
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count(Case.id))) == 3
        sms = session.scalars(select(Outbox).where(Outbox.sink == "sms")).all()
        assert [o.target for o in sms] == ["+8613800001234"]  # only C-1001 consented with a phone
    runtime.db.dispose()


def test_reimport_is_all_duplicates_and_gbk_files_are_read(tmp_path):
    make_runtime(tmp_path / "var").db.dispose()
    good = "\n".join(CSV.read_text("utf-8").splitlines()[:3]) + "\n"
    gbk = tmp_path / "calls_gbk.csv"
    gbk.write_bytes(good.encode("gb18030"))
    first = run_import(tmp_path, gbk)
    assert first.returncode == 0, first.stdout + first.stderr
    again = run_import(tmp_path, gbk)
    assert json.loads(again.stdout.splitlines()[-1])["totals"] == {
        "created": 0, "duplicate": 2, "referral": 0, "error": 0}


def test_a_file_without_the_needed_columns_is_refused(tmp_path):
    make_runtime(tmp_path / "var").db.dispose()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,路灯坏了\n", "utf-8")
    done = run_import(tmp_path, bad)
    assert done.returncode == 1 and "lacks call_id, transcript" in done.stderr
