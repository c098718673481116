"""Build the application's parts once from the configuration: database, classifier, geo, engine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from bot.handlers.cnsms import aliyun, tencent
from bot.handlers.sms import handler as sms
from bot.handlers.sms.outbound import send_generic, send_twilio
from bot.handlers.sms.rules import ALIYUN, GENERIC, SMS_CHANNELS, TENCENT, TWILIO
from bot.handlers.telegram.outbound import CHANNEL as TELEGRAM
from bot.handlers.telegram.outbound import send_outbox as send_telegram
from bot.handlers.wechat import outbound as wechat_outbound
from bot.handlers.wechat.client import CityClient, make_client
from bot.handlers.wechat.incoming import CHANNEL as WECHAT
from cases.editions import to_edition
from cases.filing import Intake
from cases.outbox import Sender
from categories import CategoryTree, load_tree
from categories.tree import DEFAULT_EDITION
from gateway.forwarding import (
    case_listeners,
    rating_listeners,
    reopen_listeners,
    retry_listeners,
)
from gateway.model_store import local_copy
from settings.config import Config, load_config
from settings.typed import Settings
from storage.catalog import active_model, effective_tree, keyword_version
from storage.db import make_engine, make_session_factory, transaction
from storage.media import MediaStore, store_for


def local_secret(data_dir: Path) -> bytes:
    """Without GRIDINTAKE_SECRET_KEY, a key made once and kept in the data directory: every
    worker process signs sessions, CSRF tokens and photo links alike, and they survive a restart."""
    path = data_dir / "secret_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(32))
    return path.read_bytes()


@dataclass
class Runtime:
    config: Config
    classifier_check_s: float = 1.0  # how often classifiers look for new keywords or a new model

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(load_config())

    @cached_property
    def settings(self) -> Settings:
        """The typed settings, built once; modules get their section, not raw keys."""
        return Settings.from_config(self.config)

    @cached_property
    def secret_key(self) -> bytes:
        """The gateway's own key: sessions, CSRF tokens and signed photo links."""
        configured = self.config.secret("SECRET_KEY")
        return configured.encode() if configured else local_secret(self.config.data_dir)

    @cached_property
    def db(self) -> SqlEngine:
        return make_engine(self.config.database_url)

    @cached_property
    def media(self) -> MediaStore:
        """Photos, raw inbound media and exports, shared by every host unless kept locally."""
        return store_for(self.settings.media, self.config.data_dir, self.db)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.db)

    @cached_property
    def base_tree(self) -> CategoryTree:
        return load_tree()

    def _load_tree(self) -> tuple[int, CategoryTree]:
        with transaction(self.sessions) as session:
            tree = effective_tree(session, self.base_tree)
        return tree.version, tree

    def _keyword_version(self) -> int:
        with transaction(self.sessions) as session:
            return keyword_version(session)

    def _active_model(self) -> tuple[int, str | None]:
        """The active model's version and this host's copy of it (unpacked from the media store
        by name when another host trained it; None there: the shipped model)."""
        with transaction(self.sessions) as session:
            version, directory = active_model(session)
        if directory is None:
            return version, None
        name = Path(directory).name
        local = local_copy(self, name)
        return version, str(local) if local else directory

    @cached_property
    def classifiers(self):
        """Classifiers that follow administrators' keyword edits and model activations without a restart."""
        from nlp import ClassifierHub

        return ClassifierHub(load=self._load_tree, version=self._keyword_version,
                             check_every_s=self.classifier_check_s, active_model=self._active_model)

    @cached_property
    def edition_tree(self) -> CategoryTree | None:
        """The active edition's tree when it is not the one the classifier speaks (CJ/T 214)."""
        edition = self.settings.categories.edition
        return None if edition == DEFAULT_EDITION else load_tree(edition=edition)

    def tree(self) -> CategoryTree:
        return self.edition_tree or self.classifiers.current().tree

    def classify(self, text: str):
        result = self.classifiers.current().classify(text)
        return to_edition(self.edition_tree, result) if self.edition_tree else result

    @cached_property
    def geo(self):
        from gateway.grid_follow import GridFollower
        from geo import build_geo

        service = build_geo(self.settings.geo, self.sessions)
        service.follow = GridFollower(self, self.classifier_check_s)  # grids imported on any host
        return service

    @cached_property
    def intake(self) -> Intake:
        intake = Intake(classify=self.classify, tree=self.tree, geo=self.geo,
                        review_below=self.settings.bot.review_below)
        # Run inside the transaction that files a case: forwarding, duplicate linking.
        intake.listeners.extend(case_listeners(self))
        return intake

    @cached_property
    def senders(self) -> dict[str, Sender]:
        """Each channel's outbound sender by outbox sink, listed here (nothing registers itself
        on import); the worker asks the platform sinks first."""
        return {TELEGRAM: send_telegram, TWILIO: send_twilio, GENERIC: send_generic,
                WECHAT: wechat_outbound.send, ALIYUN: aliyun.send, TENCENT: tencent.send}

    @cached_property
    def wechat(self) -> CityClient:
        """The Official Account's API client (ConfigError until its app id and secret are set)."""
        return make_client(self)

    @cached_property
    def engine(self) -> Engine:
        engine = Engine(self.sessions, self.intake, self.settings.bot, self.config.data_dir, self.media)
        engine.rating_listeners.extend(rating_listeners(self))
        engine.reopen_listeners.extend(reopen_listeners(self))
        engine.retry_listeners.extend(retry_listeners(self))
        engine.retry_hooks.update(dict.fromkeys(SMS_CHANNELS, sms.keywords_on_retry(self)))
        return engine
