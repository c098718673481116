"""Network geocoders through geopy against a local stand-in server: answers, CRS,
scope, timeouts, and the database cache."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

import geo
from geo.cache import GeocodeCacheStore
from geo.coords import distance_m, wgs84_to_bd09
from geo.providers import baidu, nominatim, split_domain
from settings.config import load_config
from settings.typed import GeoSettings
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import GeocodeCache

HEBI = (35.694, 114.148, 35.979, 114.357)
STATION = (35.7048, 114.3364)  # WGS-84


class StandIn(BaseHTTPRequestHandler):
    """Nominatim /search and Baidu /geocoding/v3/ with canned answers."""

    requests: list[dict[str, list[str]]] = []  # noqa: RUF012 (shared log, reset per test)
    delay = 0.0

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        type(self).requests.append({"path": [url.path], **query})
        time.sleep(type(self).delay)
        text = query.get("q", query.get("address", [""]))[0]
        if url.path.startswith("/geocoding/v3"):
            lat, lon = wgs84_to_bd09(*STATION)  # Baidu answers in BD-09
            body = {"status": 0, "result": {"location": {"lat": lat, "lng": lon},
                                            "confidence": 80, "level": "交通设施"}}
        elif "鹤壁东站" in text:
            body = [{"lat": str(STATION[0]), "lon": str(STATION[1]), "place_rank": 30,
                     "display_name": "鹤壁东站, 示范区, 鹤壁市"}]
        elif "九州路" in text:  # a vague answer: the whole road
            body = [{"lat": "35.75", "lon": "114.288", "place_rank": 16, "display_name": "九州路"}]
        elif "外地" in text:  # an answer far from the city
            body = [{"lat": "34.75", "lon": "113.62", "place_rank": 26, "display_name": "郑州"}]
        else:
            body = []
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[str]:
    StandIn.requests, StandIn.delay = [], 0.0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_split_domain():
    assert split_domain("http://127.0.0.1:8080") == ("http", "127.0.0.1:8080")
    assert split_domain("nominatim.example.org") == ("https", "nominatim.example.org")


def test_nominatim_through_geopy_with_a_custom_domain(server):
    coder = nominatim(server, 2, HEBI, cache=None)
    result = coder.geocode("鹤壁东站")
    assert result.provider == "nominatim" and result.confidence >= 0.8
    assert (result.lat, result.lon) == pytest.approx(STATION)
    (req,) = StandIn.requests
    assert req["path"] == ["/search"] and req["bounded"] == ["1"]
    viewbox = [float(v) for v in req["viewbox"][0].split(",")]
    assert sorted(viewbox) == sorted([HEBI[1], HEBI[0], HEBI[3], HEBI[2]])


def test_answers_outside_the_city_are_dropped(server):
    assert nominatim(server, 2, HEBI, cache=None).geocode("外地的长江路") is None


def test_timeout_gives_none_quickly_and_is_not_cached(server, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    factory = make_session_factory(make_engine(url))
    StandIn.delay = 1.5
    coder = nominatim(server, 0.3, HEBI, cache=GeocodeCacheStore(factory))
    start = time.monotonic()
    assert coder.geocode("鹤壁东站") is None
    assert time.monotonic() - start < 1.2
    with factory() as session:
        assert session.query(GeocodeCache).count() == 0


def test_baidu_answers_are_converted_from_bd09(server):
    coder = baidu("test-ak", 2, HEBI, "鹤壁 Hebi (demo)", cache=None, domain=server)
    result = coder.geocode("鹤壁东站")
    assert result.provider == "baidu" and result.confidence == pytest.approx(0.8)
    assert distance_m(result.lat, result.lon, *STATION) < 0.5
    (req,) = StandIn.requests
    assert req["ak"] == ["test-ak"] and req["address"] == ["鹤壁鹤壁东站"]


def test_cache_hits_skip_the_provider(server, database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    cache = GeocodeCacheStore(factory)
    coder = nominatim(server, 2, HEBI, cache=cache)
    first = coder.geocode("鹤壁东站")
    second = coder.geocode("鶴壁東站")  # same place once normalised
    assert len(StandIn.requests) == 1
    assert (second.lat, second.lon, second.confidence) == (first.lat, first.lon, first.confidence)
    assert coder.geocode("没有这个地方") is None
    assert coder.geocode("没有这个地方") is None  # a cached miss
    assert len(StandIn.requests) == 2
    with factory() as session:
        rows = session.query(GeocodeCache).order_by(GeocodeCache.id).all()
        assert [r.lat is None for r in rows] == [False, True]
        assert rows[0].payload["display_name"].startswith("鹤壁东站")
    engine.dispose()


def test_service_falls_back_to_the_gazetteer_when_the_provider_is_unsure(server, tmp_path):
    config = load_config(env={"GRIDINTAKE_GEOCODER": "nominatim",
                              "GRIDINTAKE_GEOCODING_NOMINATIM_DOMAIN": server,
                              "GRIDINTAKE_DATA_DIR": str(tmp_path)})
    service = geo.build_geo(GeoSettings.from_config(config))
    by_provider = service.geocode("鹤壁东站")
    assert by_provider.provider == "nominatim" and by_provider.cell.district == "示范区"
    fallback = service.geocode("淇滨大道与九州路交叉口")  # provider: the whole road, 0.3
    assert fallback.provider == "gazetteer" and fallback.matched == "淇滨大道 × 九州路"
    unsure = service.geocode("九州路")  # both unsure: the provider's answer stays
    assert unsure.provider == "nominatim" and unsure.confidence == pytest.approx(0.3)
    nothing = service.geocode("淇河公园")
    assert nothing.provider == "gazetteer" and nothing.matched == "淇河公园"


def test_baidu_without_a_key_is_a_configuration_error(tmp_path):
    config = load_config(env={"GRIDINTAKE_GEOCODER": "baidu", "GRIDINTAKE_DATA_DIR": str(tmp_path)})
    with pytest.raises(geo.GeoConfigError, match="GRIDINTAKE_BAIDU_AK"):
        geo.build_geo(GeoSettings.from_config(config))
