"""Configuration: one TOML file plus environment overrides; secrets only from the environment."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ENV_PREFIX = "GRIDINTAKE_"

# Short environment names that the contracts and README promise, mapped to (section, key).
SHORT_ENV = {
    "DATABASE_URL": ("database", "url"),
    "DATA_DIR": ("paths", "data_dir"),
    "PUBLIC_URL": ("server", "public_url"),
    "WEBHOOK_URL": ("forwarding", "webhook_url"),
    "OPEN311_ENDPOINT": ("forwarding", "open311_endpoint"),
    "GEOCODER": ("geocoding", "provider"),
    "TELEGRAM_BASE_URL": ("telegram", "base_url"),
    "TWILIO_API_BASE": ("sms", "twilio_api_base"),
    "RATE_LIMIT_STORAGE": ("limits", "storage_uri"),
}

SECRETS = (
    "METRICS_TOKEN",
    "TELEGRAM_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "SMS_GENERIC_SECRET",
    "WEBHOOK_SECRET",
    "PLATFORM_SECRET",
    "OPEN311_API_KEY",
    "BAIDU_AK",
    "SECRET_KEY",
    "WECHAT_TOKEN",
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "WECHAT_AES_KEY",
    "ALIYUN_ACCESS_KEY_ID",
    "ALIYUN_ACCESS_KEY_SECRET",
    "TENCENT_SECRET_ID",
    "TENCENT_SECRET_KEY",
    "CNSMS_CALLBACK_TOKEN",
    "MAP_TILES_KEY",
)


class ConfigError(Exception):
    """A setting is wrong or missing; the message says which and how to fix it."""


def _default_text() -> str:
    return resources.files("settings").joinpath("default.toml").read_text("utf-8")


def _coerce(value: str, like: Any, where: str) -> Any:
    if isinstance(like, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}={value!r} is not a boolean: use true or false")
    if isinstance(like, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where}={value!r} is not a whole number") from None
    if isinstance(like, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}={value!r} is not a number") from None
    if isinstance(like, list):
        return [float(v) for v in value.split(",") if v.strip()]
    return value


@dataclass
class Config:
    """Settings as sections of plain values; `secret(name)` reads the environment."""

    sections: dict[str, dict[str, Any]]
    source: str = "defaults"
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.sections.get(section, {}).get(key, default)

    def secret(self, name: str) -> str | None:
        if name not in SECRETS:
            raise KeyError(f"unknown secret {name}")
        return self.env.get(ENV_PREFIX + name) or None

    @property
    def data_dir(self) -> Path:
        path = Path(self.get("paths", "data_dir"))
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def database_url(self) -> str:
        url = self.get("database", "url")
        if url:
            return url
        return f"sqlite:///{(self.data_dir / 'gridintake.db').resolve()}"


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    sections: dict[str, dict[str, Any]] = tomllib.loads(_default_text())
    source = "defaults"
    path = path or env.get(ENV_PREFIX + "CONFIG")
    if path:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file} not found: fix GRIDINTAKE_CONFIG or create the file")
        try:
            own = tomllib.loads(file.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        for section, values in own.items():
            if section not in sections or not isinstance(values, dict):
                raise ConfigError(f"{file}: unknown section [{section}]; known: {', '.join(sections)}")
            for key, value in values.items():
                if key not in sections[section]:
                    raise ConfigError(f"{file}: unknown key {key!r} in [{section}]")
                sections[section][key] = value
        source = str(file)
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        short = name[len(ENV_PREFIX):]
        target = SHORT_ENV.get(short)
        if target is None and "_" in short:
            section, _, key = short.lower().partition("_")
            if section in sections and key in sections[section]:
                target = (section, key)
        if target:
            section, key = target
            sections[section][key] = _coerce(value, sections[section][key], name)
    return Config(sections=sections, source=source, env=env)
