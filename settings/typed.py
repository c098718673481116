"""The settings as typed values, built once from the configuration (TOML + environment) by
`Settings.from_config` and passed down, so no module reads and casts raw keys itself.

Secrets stay in the environment; the sections that need one carry it here as a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from settings.config import Config


@dataclass(frozen=True)
class BotSettings:
    """The conversation and every way a report comes in (`[bot]`, the city's short name, and
    the geocoder's confidence below which the resident confirms the place)."""

    city: str = "鹤壁"
    max_text_chars: int = 2000
    max_photo_bytes: int = 10 * 1024 * 1024
    idle_minutes: int = 30
    confirm_below: float = 0.55
    min_geo_confidence: float = 0.6

    @property
    def max_photo_mb(self) -> int:
        return self.max_photo_bytes // (1024 * 1024)

    @classmethod
    def from_config(cls, config: Config) -> BotSettings:
        bot = config["bot"]
        return cls(
            city=str(config.get("city", "name")).split(" ")[0],
            max_text_chars=int(bot["max_text_chars"]),
            max_photo_bytes=int(bot["max_photo_bytes"]),
            idle_minutes=int(bot["conversation_idle_minutes"]),
            confirm_below=float(bot["confirm_below"]),
            min_geo_confidence=float(config.get("geocoding", "min_confidence")),
        )


@dataclass(frozen=True)
class PlatformSettings:
    """What the city platform is sent (`[forwarding]`, and the public URL of case photos)."""

    webhook_url: str = ""
    open311_endpoint: str = ""
    open311_jurisdiction: str = ""
    noop: bool = False
    overdue_notice: bool = True
    not_satisfied_below: int = 3
    public_url: str = ""

    @classmethod
    def from_config(cls, config: Config) -> PlatformSettings:
        get = config.get
        return cls(
            webhook_url=get("forwarding", "webhook_url") or "",
            open311_endpoint=get("forwarding", "open311_endpoint") or "",
            open311_jurisdiction=get("forwarding", "open311_jurisdiction") or "",
            noop=bool(get("forwarding", "noop", False)),
            overdue_notice=bool(get("forwarding", "overdue_notice", True)),
            not_satisfied_below=int(get("forwarding", "not_satisfied_below", 3)),
            public_url=get("server", "public_url") or "",
        )


@dataclass(frozen=True)
class DuplicateSettings:
    """When a new report repeats an open case (`[duplicates]`)."""

    distance_m: float = 50
    window_hours: float = 72
    min_text_similarity: float = 40

    @classmethod
    def from_config(cls, config: Config) -> DuplicateSettings:
        section = config["duplicates"]
        return cls(float(section["distance_m"]), float(section["window_hours"]),
                   float(section["min_text_similarity"]))


@dataclass(frozen=True)
class LimitSettings:
    """Per-sender inbound limits (`[limits]`), shared by every channel."""

    per_sender: str = "20/minute"
    storage_uri: str = "memory://"

    @classmethod
    def from_config(cls, config: Config) -> LimitSettings:
        return cls(config.get("limits", "per_sender"), config.get("limits", "storage_uri"))


@dataclass
class WorkerSettings:
    """The outbox worker (`[forwarding]`); checked when a worker is made, not at start-up."""

    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 3600.0
    batch_size: int = 20
    lease_s: float = 120.0
    timeout_s: float = 10.0

    @classmethod
    def from_config(cls, config: Config) -> WorkerSettings:
        get = config.get
        return cls(
            max_attempts=int(get("forwarding", "max_attempts", 8)),
            backoff_base_s=float(get("forwarding", "backoff_base_s", 2)),
            backoff_cap_s=float(get("forwarding", "backoff_cap_s", 3600)),
            batch_size=int(get("forwarding", "batch_size", 20)),
            lease_s=float(get("forwarding", "lease_s", 120)),
            timeout_s=float(get("forwarding", "timeout_s", 10)),
        )

    def __post_init__(self) -> None:
        if self.lease_s <= self.timeout_s + 1:
            raise ValueError(f"forwarding lease ({self.lease_s} s) must exceed the HTTP timeout "
                             f"({self.timeout_s} s) by more than a second")


@dataclass(frozen=True)
class MetricsSettings:
    """Who may read /metrics, and where the processes of this host keep their counters."""

    allow: tuple[str, ...] = ("127.0.0.1", "::1")
    token: str | None = None
    dir: str = ""

    @classmethod
    def from_config(cls, config: Config) -> MetricsSettings:
        directory = config.get("metrics", "dir") or str(config.data_dir / "metrics")
        allow = str(config.get("metrics", "allow", ",".join(cls.allow)))
        return cls(allow=tuple(a.strip() for a in allow.split(",") if a.strip()),
                   token=config.secret("METRICS_TOKEN"), dir=directory)


@dataclass(frozen=True)
class Settings:
    """Every typed section; `Runtime.settings` builds it once."""

    bot: BotSettings = field(default_factory=BotSettings)
    platform: PlatformSettings = field(default_factory=PlatformSettings)
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        return cls(bot=BotSettings.from_config(config),
                   platform=PlatformSettings.from_config(config),
                   duplicates=DuplicateSettings.from_config(config),
                   limits=LimitSettings.from_config(config),
                   metrics=MetricsSettings.from_config(config))
