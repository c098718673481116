"""Trained models the administrator can activate: the shipped one and each retraining's output.

Retraining writes ``DATA_DIR/models/model-<time>`` with its dev-set figures beside it and packs
it into the media store (``gateway.model_store``); activating stores the directory and a new model
version in the database (``storage.catalog``), which every process's ``ClassifierHub`` polls, so
gateway workers and bot processes on every host switch without a restart (another host unpacks
the model from the store by its name).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.admin.measure import dev_set_path, measure, read_records
from gateway.model_store import NAME, local_copy, models_dir, publish
from nlp import Classifier
from nlp.model import default_model_dir, shared_model
from storage.catalog import active_model, keyword_version, set_active_model
from storage.models import AuditLog

SHIPPED = "shipped"
FIGURES_FILE = "dev_figures.json"
KEPT_FIGURES = ("n", "top1", "top3", "major_top1", "none_precision", "none_recall")


@dataclass
class ModelInfo:
    name: str  # "shipped" or the directory's name under DATA_DIR/models
    path: Path
    figures: dict[str, Any] | None  # dev-set figures, with the keyword version they were taken at
    active: bool


def resolve(runtime: Any, name: str) -> Path:
    """The directory of a model by name: only names of DATA_DIR/models (no path tricks), unpacked
    from the media store when another host trained it."""
    if name == SHIPPED:
        return default_model_dir()
    path = local_copy(runtime, name)
    if path is None:
        raise ValueError(f"没有这个模型 (no such model): {name}")
    return path


def dev_figures(classifier: Classifier) -> dict[str, Any]:
    """The figures the admin compares models by, on the built-in dev set."""
    path = dev_set_path()
    figures = measure(classifier, read_records(path.name, path.read_text("utf-8"))).figures
    return {k: figures[k] for k in KEPT_FIGURES} | {"keyword_version": classifier.version}


def save_figures(model_dir: Path, figures: dict[str, Any]) -> None:
    (model_dir / FIGURES_FILE).write_text(json.dumps(figures, indent=2) + "\n", "utf-8")


def _stored_figures(model_dir: Path) -> dict[str, Any] | None:
    path = model_dir / FIGURES_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


_measured: dict[tuple[str, int], dict[str, Any]] = {}
_measured_lock = threading.Lock()


def _once(key: tuple[str, int], classifier: Classifier) -> dict[str, Any]:
    with _measured_lock:
        if key not in _measured:
            _measured[key] = dev_figures(classifier)
        return _measured[key]


def active_figures(runtime: Any) -> dict[str, Any]:
    """The running model's dev figures on the current keywords (measured once per version pair)."""
    classifier = runtime.classifiers.current()
    return _once((f"v{classifier.model_version}", classifier.version), classifier)


def shipped_figures(runtime: Any) -> dict[str, Any]:
    """The shipped model's dev figures on the current keywords, to compare a rollback with."""
    tree = runtime.classifiers.current().tree
    return _once((SHIPPED, tree.version), Classifier(tree, model=shared_model()))


def _trained_elsewhere(session: Session) -> dict[str, dict[str, Any] | None]:
    """Models any host's retraining made (its audit row), with their dev figures."""
    rows = session.scalars(select(AuditLog.after).where(AuditLog.action == "model.retrain"))
    return {after["model"]: after.get("dev_new") for after in rows
            if after and NAME.fullmatch(str(after.get("model", "")))}


def list_models(session: Session, runtime: Any) -> list[ModelInfo]:
    """The shipped model then the retrained ones (here or on another host), newest first, the
    active one marked (by name: each host keeps its copy in its own data directory)."""
    _, active_dir = active_model(session)
    active_name = Path(active_dir).name if active_dir else None
    found = [ModelInfo(SHIPPED, default_model_dir(), None, active_dir is None)]
    root = models_dir(runtime)
    figures = _trained_elsewhere(session)
    if root.is_dir():
        figures |= {p.name: _stored_figures(p) for p in root.glob("model-*") if (p / "config.cfg").is_file()}
    found += [ModelInfo(name, root / name, figures[name], name == active_name)
              for name in sorted(figures, reverse=True)]
    return found


def activate(session: Session, runtime: Any, name: str, actor: str) -> int:
    """Make a model the active one everywhere; it is loaded here first so a broken one is refused."""
    path = resolve(runtime, name)
    if name != SHIPPED:
        try:
            loaded = shared_model(path)
        except Exception as exc:
            raise ValueError(f"模型无法加载 (the model cannot be loaded): {exc}") from exc
        if loaded is None:
            raise ValueError(f"没有这个模型 (no such model): {name}")
        publish(runtime, path)  # so every host can follow it
    return set_active_model(session, None if name == SHIPPED else str(path), actor)


def current_version(session: Session) -> dict[str, Any]:
    version, directory = active_model(session)
    return {"model_version": version, "model": Path(directory).name if directory else SHIPPED,
            "keyword_version": keyword_version(session)}
