"""A model retrained on one host is used by another: two runtimes with data directories of their
own on one PostgreSQL, sharing models through the media store (the database backend here; S3 is
the same interface, tested in test_media_store.py)."""

from __future__ import annotations

import json
import shutil

from gateway.admin.models import activate, list_models
from gateway.admin.retrain import RetrainJob
from gateway.model_store import archive_key, local_copy
from nlp.model import default_model_dir
from storage.db import transaction
from tests.conftest import make_runtime
from tests.support.processes import wait_for

TEXT = "小区门口的井盖坏了，晚上很危险"


def _says_none_to_everything(out_dir, files):
    """A stand-in trainer (the real one takes minutes): the shipped model with its "none" bias
    pushed so high that every message is called unrelated — unmistakable once active."""
    shutil.copytree(default_model_dir(), out_dir)
    calibration = out_dir / "ensemble.json"
    data = json.loads(calibration.read_text("utf-8"))
    calibration.write_text(json.dumps(data | {"none_bias": 50.0}), "utf-8")
    return {"examples": 0}


def test_a_model_retrained_on_one_host_is_followed_by_another(tmp_path, postgres_url):
    a, b = (make_runtime(tmp_path / name, postgres_url, GRIDINTAKE_SECRET_KEY="shared")
            for name in ("a", "b"))
    assert b.classify(TEXT).label != "none"
    job = RetrainJob(a, trainer=_says_none_to_everything)
    job.start("ann")
    job.join(timeout=300)
    assert job.status()["state"] == "done", job.status()
    name = job.status()["result"]["model"]
    assert a.media.exists(archive_key(name)) and not (b.config.data_dir / "models").exists()

    with transaction(b.sessions) as session:  # B's admin page lists it before B has a copy
        listed = {m.name: m for m in list_models(session, b)}
    assert listed[name].figures["top1"] < 0.2 and not listed[name].active

    with transaction(a.sessions) as session:
        activate(session, a, name, "ann")
    after = wait_for("host B to follow the new model",
                     lambda: (c := b.classify(TEXT)).label == "none" and c, timeout=10)
    assert after.evidence["model_version"] == 1
    assert (b.config.data_dir / "models" / name / "config.cfg").is_file()  # unpacked on B
    with transaction(b.sessions) as session:
        assert {m.name for m in list_models(session, b) if m.active} == {name}
    for runtime in (a, b):
        runtime.db.dispose()


def test_only_model_names_are_unpacked(runtime):
    for name in ("../etc", "model-x/../../y", "shipped", "model-missing"):
        assert local_copy(runtime, name) is None
