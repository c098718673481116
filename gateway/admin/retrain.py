"""Retraining the text model in a background thread, with its stage and the new figures.

The new model is written beside the data (``DATA_DIR/models/<time>``), measured on the dev set
against the running (active) one, and reported; it does not replace the active model by itself:
the administrator activates it (``gateway.admin.models``).
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.admin.audit import record
from gateway.admin.models import active_figures, dev_figures, save_figures
from gateway.model_store import publish
from nlp import Classifier
from nlp.model import TextModel
from nlp.train import train, training_files
from storage.catalog import effective_tree
from storage.db import transaction
from storage.models import AuditLog, TrainingExample, utcnow

STARTED, DONE, FAILED = "model.retrain_started", "model.retrain", "model.retrain_failed"
# A start with no outcome after this long was cut off (its process stopped): it no longer blocks.
STALE_AFTER = timedelta(hours=2)
Trainer = Callable[[Path, list[Path]], dict[str, Any]]


def _train(out_dir: Path, files: list[Path]) -> dict[str, Any]:
    return train(out_dir, files)


class RetrainJob:
    """One retraining at a time across the gateway's workers (each start and outcome is an audit
    row); ``status()`` is this process's job, ``shown()`` what every worker's page shows."""

    def __init__(self, runtime: Any, trainer: Trainer = _train) -> None:
        self.runtime = runtime
        self.trainer = trainer
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._status: dict[str, Any] = {"state": "idle"}

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status.update(changes)

    def start(self, actor: str) -> bool:
        """Start in the background; False when one is already running here or in another worker."""
        with self._lock:
            if self._status.get("state") == "running":
                return False
            with transaction(self.runtime.sessions) as db:
                if _latest(db)["state"] == "running":
                    return False
                record(db, actor, STARTED, None, None, None)
            self._status = {"state": "running", "stage": "准备 preparing", "actor": actor,
                            "started_at": utcnow().isoformat(timespec="seconds")}
            self._thread = threading.Thread(target=self._run, args=(actor,), name="admin-retrain",
                                            daemon=True)
            self._thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, actor: str) -> None:
        try:
            result = self._retrain()
            with transaction(self.runtime.sessions) as db:
                record(db, actor, DONE, result["model_dir"], None, result)
            self._set(state="done", stage="完成 done", result=result,
                      finished_at=utcnow().isoformat(timespec="seconds"))
        except Exception as exc:  # the page must show any failure, whatever it is
            traceback.print_exc()
            error = f"{exc.__class__.__name__}: {exc}"
            self._set(state="failed", stage="失败 failed", error=error,
                      finished_at=utcnow().isoformat(timespec="seconds"))
            try:  # so the pages served by the gateway's other workers show it too
                with transaction(self.runtime.sessions) as db:
                    record(db, actor, FAILED, None, None, {"error": error})
            except Exception:
                traceback.print_exc()

    def shown(self, session: Session) -> dict[str, Any]:
        """This process's job, or when it has none, the last one any worker started."""
        status = self.status()
        return status if status["state"] != "idle" else _latest(session)

    def _retrain(self) -> dict[str, Any]:
        rt = self.runtime
        self._set(stage="收集样本 collecting examples")
        with transaction(rt.sessions) as db:
            rows = db.execute(select(TrainingExample.text, TrainingExample.label)
                              .order_by(TrainingExample.id)).all()
            tree = effective_tree(db, rt.base_tree)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        work = rt.config.data_dir / "models"
        work.mkdir(parents=True, exist_ok=True)
        reviewed = work / f"review-{stamp}.jsonl"
        reviewed.write_text("".join(json.dumps({"text": t, "label": lb}, ensure_ascii=False) + "\n"
                                    for t, lb in rows), "utf-8")
        self._set(stage=f"训练 training ({len(rows)} reviewed examples)")
        out_dir = work / f"model-{stamp}"
        training = self.trainer(out_dir, [*training_files(), reviewed])
        self._set(stage="评估 measuring on the dev set")
        new = dev_figures(Classifier(tree, model=TextModel.load(out_dir)))
        save_figures(out_dir, new)
        publish(rt, out_dir)  # any host can activate and load it
        return {"model_dir": str(out_dir), "model": out_dir.name, "reviewed_examples": len(rows),
                "training": training, "dev_new": new, "dev_current": active_figures(rt)}


def _latest(session: Session) -> dict[str, Any]:
    """The status of the last retraining recorded by any worker; ``idle`` when none was."""
    row = session.scalar(select(AuditLog).where(AuditLog.action.in_((STARTED, DONE, FAILED)))
                         .order_by(AuditLog.id.desc()).limit(1))
    if row is None:
        return {"state": "idle"}
    at = row.created_at.isoformat(timespec="seconds")
    if row.action == STARTED and utcnow() - row.created_at < STALE_AFTER:
        return {"state": "running", "stage": "另一个工作进程在训练 running in another worker",
                "actor": row.actor, "started_at": at}
    if row.action == STARTED:
        return {"state": "failed", "stage": "失败 failed", "actor": row.actor,
                "error": f"中断 interrupted: no result since {at}", "finished_at": at}
    if row.action == FAILED:
        return {"state": "failed", "stage": "失败 failed", "error": row.after["error"],
                "finished_at": at, "actor": row.actor}
    return {"state": "done", "stage": "完成 done", "result": row.after, "finished_at": at,
            "actor": row.actor}
