"""The `gridintake` console command: the JSON contract other tools and checks rely on."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("gridintake")


@pytest.fixture
def env(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIDINTAKE_")}
    environ["GRIDINTAKE_DATA_DIR"] = str(tmp_path / "var")
    subprocess.run([BIN, "db", "upgrade"], env=environ, check=True, capture_output=True)
    return environ


def gi(env, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_report_prints_a_case_with_a_component_label_and_grid(env):
    case = json.loads(gi(env, "report", "--text", "淇滨大道与九州路交叉口的井盖坏了").stdout)
    assert case["number"].startswith("GI-")
    assert case["label"].startswith("component:")
    assert case["grid_code"].startswith("410611") and len(case["grid_code"]) == 14
    assert case["status"] == "accepted"
    assert {"category_name", "lat", "lon"} <= case.keys()
    shown = json.loads(gi(env, "case", "show", case["number"]).stdout)
    assert shown["number"] == case["number"]
    assert [e["status"] for e in shown["events"]] == ["accepted"]


def test_report_with_a_point_in_gcj02(env):
    case = json.loads(gi(env, "report", "--text", "路灯不亮了", "--lat", "35.7458", "--lon",
                         "114.3030", "--crs", "gcj02").stdout)
    assert case["label"] == "component:0118"
    assert case["grid_code"] is not None
    shift = abs(case["lat"] - 35.7458) + abs(case["lon"] - 114.3030)
    assert 0.001 < shift < 0.02  # stored as WGS-84, not as the GCJ-02 input


def test_report_of_an_unknown_place_is_kept_as_needs_location(env):
    case = json.loads(gi(env, "report", "--text", "有个井盖丢了").stdout)
    assert case["status"] == "needs_location"
    assert case["grid_code"] is None


def test_errors_are_one_line_on_stderr(env):
    result = gi(env, "report", "--text", "  ", ok=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "empty" in result.stderr
    missing = gi(env, "case", "show", "GI-20000101-000001", ok=False)
    assert missing.returncode == 1 and "no case" in missing.stderr


def test_wrong_config_names_the_setting(env, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[bot]\nconfirm_bellow = 0.5\n")
    result = gi({**env, "GRIDINTAKE_CONFIG": str(bad)}, "db", "upgrade", ok=False)
    assert result.returncode == 1
    assert "confirm_bellow" in result.stderr and "[bot]" in result.stderr


def test_report_twice_from_one_phone_files_two_cases_for_one_reporter(env):
    """The one-shot report finds the reporter its phone made the first time (it used to insert
    a second one and crash on the unique channel/sender key)."""
    args = ("report", "--text", "路灯不亮了", "--phone", "13800001234")
    first = json.loads(gi(env, *args).stdout)
    second = json.loads(gi(env, *args).stdout)
    assert first["number"] != second["number"]
    db = sqlite3.connect(Path(env["GRIDINTAKE_DATA_DIR"]) / "gridintake.db")
    reporters = db.execute("SELECT id, phone FROM reporter WHERE channel = 'console'").fetchall()
    owners = {row[0] for row in db.execute("SELECT reporter_id FROM \"case\"")}
    db.close()
    assert len(reporters) == 1 and reporters[0][1] == "13800001234"
    assert owners == {reporters[0][0]}
