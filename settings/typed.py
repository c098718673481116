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
    confirm_below: float = 0.55  # calibrated confidence (nlp.confidence) below which we ask
    review_below: float = 0.5  # filed cases below this confidence go to the review queue
    min_geo_confidence: float = 0.6
    inbound_max_attempts: int = 5  # a message that failed this often waits for `inbound retry`
    reopen_days: int = 7

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
            review_below=float(bot["review_below"]),
            min_geo_confidence=float(config.get("geocoding", "min_confidence")),
            inbound_max_attempts=int(config.get("bot", "inbound_max_attempts", 5)),
            reopen_days=int(bot.get("reopen_days", 7)),
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
    media_url_ttl_hours: float = 168.0
    mask_personal_data: bool = True
    webhook_secret: str = ""
    open311_api_key: str = ""

    @classmethod
    def from_config(cls, config: Config) -> PlatformSettings:
        get = config.get
        # Photo links must be absolute: without a public URL, the address the server listens on.
        listening = f"http://{get('server', 'host')}:{get('server', 'port')}"
        return cls(
            webhook_url=get("forwarding", "webhook_url") or "",
            open311_endpoint=get("forwarding", "open311_endpoint") or "",
            open311_jurisdiction=get("forwarding", "open311_jurisdiction") or "",
            noop=bool(get("forwarding", "noop", False)),
            overdue_notice=bool(get("forwarding", "overdue_notice", True)),
            not_satisfied_below=int(get("forwarding", "not_satisfied_below", 3)),
            public_url=get("server", "public_url") or listening,
            media_url_ttl_hours=float(get("server", "media_url_ttl_hours", 168)),
            mask_personal_data=bool(get("forwarding", "mask_personal_data", True)),
            webhook_secret=config.secret("WEBHOOK_SECRET") or "",
            open311_api_key=config.secret("OPEN311_API_KEY") or "",
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
    processes: int = 1  # processes keeping their own count in memory (`gridintake serve` sets it)

    @classmethod
    def from_config(cls, config: Config) -> LimitSettings:
        return cls(config.get("limits", "per_sender"), config.get("limits", "storage_uri"),
                   max(1, int(config.get("limits", "processes", 1))))


@dataclass(frozen=True)
class WeChatSettings:
    """The Official Account (`[wechat]`); its token, app id, app secret and AES key stay in the
    environment and are read where the channel needs them."""

    api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    reply_within_s: float = 4.0
    token_storage: str = ""
    service_window_hours: float = 48
    template_id: str = ""
    template_fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> WeChatSettings:
        get = config.get
        reply_within_s = float(get("wechat", "reply_within_s", 4.0))
        if not 0 < reply_within_s < 5:
            raise ValueError(f"[wechat] reply_within_s = {reply_within_s}: WeChat waits 5 s at most")
        return cls(
            api_base=(get("wechat", "api_base") or cls.api_base).rstrip("/") + "/",
            reply_within_s=reply_within_s,
            token_storage=get("wechat", "token_storage") or "",
            service_window_hours=float(get("wechat", "service_window_hours", 48)),
            template_id=get("wechat", "template_id") or "",
            template_fields=dict(get("wechat", "template_fields") or {}),
        )


@dataclass(frozen=True)
class MainlandSmsSettings:
    """Aliyun and Tencent Cloud SMS (`[cnsms]`); keys and the callback token stay in the
    environment."""

    providers: tuple[str, ...] = ()
    sign_name: str = ""
    aliyun_endpoint: str = "dysmsapi.aliyuncs.com"
    tencent_endpoint: str = "sms.tencentcloudapi.com"
    tencent_region: str = "ap-guangzhou"
    tencent_sdk_app_id: str = ""
    protocol: str = "https"

    @classmethod
    def from_config(cls, config: Config) -> MainlandSmsSettings:
        section = config["cnsms"]
        providers = tuple(p.strip() for p in str(section["providers"]).split(",") if p.strip())
        unknown = set(providers) - {"aliyun", "tencent"}
        if unknown:
            raise ValueError(f"[cnsms] providers: unknown {sorted(unknown)}; use aliyun, tencent")
        return cls(providers, *(str(section[name]) for name in (
            "sign_name", "aliyun_endpoint", "tencent_endpoint", "tencent_region",
            "tencent_sdk_app_id", "protocol")))


@dataclass
class WorkerSettings:
    """The outbox worker (`[forwarding]`); checked when a worker is made, not at start-up."""

    retry_for_s: float = 24 * 3600.0
    max_attempts: int = 0  # 0: no limit on attempts, retry_for_s decides
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 3600.0
    batch_size: int = 20
    lease_s: float = 120.0
    timeout_s: float = 10.0

    @classmethod
    def from_config(cls, config: Config) -> WorkerSettings:
        get = config.get
        return cls(
            retry_for_s=float(get("forwarding", "retry_for_hours", 24)) * 3600,
            max_attempts=int(get("forwarding", "max_attempts", 0)),
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
class GeoSettings:
    """The city's geodata and geocoder (`[city]`, `[geocoding]`, and where imported grids are
    kept); checked by `geo.build_geo`, which knows what makes them usable."""

    city: str = ""
    data_dir: str = "var"
    grids: str = ""
    gazetteer: str = ""
    bbox: tuple[float, ...] = ()
    snap_distance_m: float = 60
    grid_code_serial_digits: int = 2
    provider: str = "gazetteer"
    nominatim_domain: str = ""
    timeout_s: float = 5
    min_confidence: float = 0.6
    baidu_ak: str = ""

    @classmethod
    def from_config(cls, config: Config) -> GeoSettings:
        city, geocoding = config["city"], config["geocoding"]
        return cls(
            city=str(city["name"]),
            data_dir=str(config.get("paths", "data_dir") or "var"),
            grids=city["grids"] or "",
            gazetteer=city["gazetteer"] or "",
            bbox=tuple(float(v) for v in city["bbox"] or ()),
            snap_distance_m=float(city["snap_distance_m"]),
            grid_code_serial_digits=int(city["grid_code_serial_digits"]),
            provider=str(geocoding["provider"]),
            nominatim_domain=geocoding["nominatim_domain"] or "",
            timeout_s=float(geocoding["timeout_s"]),
            min_confidence=float(geocoding["min_confidence"]),
            baidu_ak=config.secret("BAIDU_AK") or "",
        )


@dataclass(frozen=True)
class ServerSettings:
    """How `gridintake serve` listens (`[server]`) and the address residents and the platform
    reach it at."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 8
    public_url: str = ""

    @classmethod
    def from_config(cls, config: Config) -> ServerSettings:
        server = config["server"]
        return cls(str(server["host"]), int(server["port"]), int(server["workers"]),
                   int(server["threads"]), str(server["public_url"] or "").rstrip("/"))


@dataclass(frozen=True)
class ChannelSettings:
    """Where the channels' provider APIs are (`[telegram]`, `[sms]`): empty means the real
    provider; tests and stand-ins point them at loopback."""

    telegram_base_url: str = ""
    twilio_api_base: str = ""
    generic_outbound_url: str = ""
    media_hosts: tuple[str, ...] = ("api.twilio.com", "*.twiliocdn.com",
                                    "s3-external-1.amazonaws.com")
    media_deadline_s: float = 15.0
    sms_per_second: int = 0  # outbound SMS a second for the whole city (Redis limits); 0: unpaced

    @classmethod
    def from_config(cls, config: Config) -> ChannelSettings:
        hosts = str(config.get("sms", "media_hosts") or "")
        return cls(config.get("telegram", "base_url") or "",
                   config.get("sms", "twilio_api_base") or "",
                   config.get("sms", "generic_outbound_url") or "",
                   tuple(h.strip() for h in hosts.split(",") if h.strip()),
                   float(config.get("sms", "media_deadline_s", 15)),
                   int(config.get("sms", "per_second", 0) or 0))


# Basemap presets: tile URL template, datum of the tiles, attribution. A city may also give its
# own template; {tk} is filled from GRIDINTAKE_MAP_TILES_KEY (天地图 needs a key).
MAP_PRESETS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "wgs84",
            "© OpenStreetMap contributors"),
    "tianditu": ("https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                 "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                 "&TILECOL={x}&tk={tk}", "wgs84", "天地图 © 国家地理信息公共服务平台"),
    "amap": ("https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}", "gcj02", "© 高德地图 AutoNavi"),
}


@dataclass(frozen=True)
class MapSettings:
    """The staff's map (`[map]`): no basemap by default (the gazetteer's roads are drawn
    instead, offline), a preset name, or a tile URL template with its datum."""

    tiles: str = ""
    crs: str = "wgs84"
    attribution: str = ""

    @classmethod
    def from_config(cls, config: Config) -> MapSettings:
        section = config["map"]
        tiles, crs, attribution = str(section["tiles"] or ""), str(section["crs"]), ""
        if tiles in MAP_PRESETS:
            tiles, crs, attribution = MAP_PRESETS[tiles]
        tiles = tiles.replace("{tk}", config.secret("MAP_TILES_KEY") or "")
        return cls(tiles, crs, str(section["attribution"] or attribution))


@dataclass(frozen=True)
class CategorySettings:
    """The catalogue edition cases are filed in (`[categories]`); checked by categories."""

    edition: str = "cjt214"

    @classmethod
    def from_config(cls, config: Config) -> CategorySettings:
        return cls(str(config.get("categories", "edition", "cjt214") or "cjt214"))


@dataclass(frozen=True)
class Open311ServerSettings:
    """Our own Open311 GeoReport v2 server (`[georeport]`), where 311 apps file reports."""

    jurisdiction: str = ""  # empty: one jurisdiction, any jurisdiction_id accepted
    contact: str = ""  # discovery's contact line
    max_days: int = 90  # the widest start_date..end_date span of GET requests

    @classmethod
    def from_config(cls, config: Config) -> Open311ServerSettings:
        get = config.get
        return cls(str(get("georeport", "jurisdiction", "") or ""),
                   str(get("georeport", "contact", "") or ""),
                   int(get("georeport", "max_days", 90)))


@dataclass(frozen=True)
class AdminSettings:
    """Staff sign-in (`[admin]`): session lifetimes and failed-login limits."""

    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    login_limit_per_account: str = "20/15 minutes"
    login_limit_per_address: str = "5/5 minutes"

    @classmethod
    def from_config(cls, config: Config) -> AdminSettings:
        get = config.get
        return cls(int(get("admin", "session_idle_minutes", 60)),
                   int(get("admin", "session_absolute_hours", 12)),
                   str(get("admin", "login_limit_per_account", "20/15 minutes")),
                   str(get("admin", "login_limit_per_address", "5/5 minutes")))


@dataclass(frozen=True)
class MediaSettings:
    """Where photos, raw inbound media and exports are kept (`[media]`, storage/media.py):
    empty backend = the database on PostgreSQL, the data directory otherwise."""

    backend: str = ""
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_prefix: str = ""
    accel_redirect: str = ""  # an nginx internal location: nginx sends the file, not Python

    @classmethod
    def from_config(cls, config: Config) -> MediaSettings:
        return cls(*(str(config.get("media", key) or "") for key in
                     ("backend", "s3_bucket", "s3_endpoint_url", "s3_region", "s3_prefix",
                      "accel_redirect")))


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
    geo: GeoSettings = field(default_factory=GeoSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    map: MapSettings = field(default_factory=MapSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    wechat: WeChatSettings = field(default_factory=WeChatSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    open311_server: Open311ServerSettings = field(default_factory=Open311ServerSettings)
    categories: CategorySettings = field(default_factory=CategorySettings)
    cnsms: MainlandSmsSettings = field(default_factory=MainlandSmsSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        return cls(bot=BotSettings.from_config(config),
                   platform=PlatformSettings.from_config(config),
                   duplicates=DuplicateSettings.from_config(config),
                   limits=LimitSettings.from_config(config),
                   geo=GeoSettings.from_config(config),
                   server=ServerSettings.from_config(config),
                   channels=ChannelSettings.from_config(config),
                   map=MapSettings.from_config(config),
                   admin=AdminSettings.from_config(config),
                   wechat=WeChatSettings.from_config(config),
                   media=MediaSettings.from_config(config),
                   open311_server=Open311ServerSettings.from_config(config),
                   categories=CategorySettings.from_config(config),
                   cnsms=MainlandSmsSettings.from_config(config),
                   metrics=MetricsSettings.from_config(config))
