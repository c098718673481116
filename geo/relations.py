"""Relative phrases around a place: 往东50米, 东北角, 对面, 门口/附近, "50 m east of".

The phrase is removed from the text before names are matched, and the relation is
applied to the resolved point afterwards.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

BEARINGS = {"东": 90.0, "西": 270.0, "南": 180.0, "北": 0.0, "东北": 45.0, "东南": 135.0,
            "西北": 315.0, "西南": 225.0, "east": 90.0, "west": 270.0, "south": 180.0,
            "north": 0.0, "northeast": 45.0, "southeast": 135.0, "northwest": 315.0,
            "southwest": 225.0}
# A side or corner without a distance ("东侧", "西北角") is this far from the anchor.
SIDE_M = 30.0

_DIR = "东北|东南|西北|西南|东|西|南|北"
_UNIT = r"(米|m|公里|千米|km)"
_ZH_DIST = re.compile(
    rf"(?:往|向|朝)?({_DIR})(?:边|侧|面|方向|方)?(?:走|行|再走)?(?:约|大约|大概|差不多)?"
    rf"\s*(\d+(?:\.\d+)?)\s*{_UNIT}(?:处|左右|的地方|远)?"
)
_ZH_SIDE = re.compile(rf"(?<![往向朝])({_DIR})(?:侧|边|面|角)")
_EN_DIST = re.compile(
    r"(\d+(?:\.\d+)?)\s*(m|meters?|metres?|km)\s+"
    r"(northeast|northwest|southeast|southwest|north|south|east|west)(?:\s+of)?"
)
_OPPOSITE = re.compile(r"对面|对过|马路对面|路对面|opposite(?:\s+of)?|across from")
_VAGUE = re.compile(r"门口|旁边|附近|边上|周边|一带|周围|那边|这边|near(?:by)?|outside|in front of|next to")


@dataclass(frozen=True)
class Relation:
    bearing: float | None = None  # degrees clockwise from north
    distance_m: float = 0.0
    opposite: bool = False
    vague: bool = False
    text: str = ""

    @property
    def moves(self) -> bool:
        return self.bearing is not None and self.distance_m > 0

    def offset(self) -> tuple[float, float]:
        """(dx east, dy north) in metres."""
        if self.bearing is None:
            return 0.0, 0.0
        rad = math.radians(self.bearing)
        return self.distance_m * math.sin(rad), self.distance_m * math.cos(rad)


def _metres(value: str, unit: str) -> float:
    return float(value) * (1000.0 if unit in ("公里", "千米", "km") else 1.0)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def extract(text: str) -> tuple[str, Relation]:
    """The text with its relative phrases blanked (positions kept), and their relation."""
    bearing, distance, parts = None, 0.0, []
    m = _ZH_DIST.search(text)
    if m:
        bearing, distance = BEARINGS[m.group(1)], _metres(m.group(2), m.group(3))
    else:
        m = _EN_DIST.search(text)
        if m:
            unit = "km" if m.group(2) == "km" else "m"
            bearing, distance = BEARINGS[m.group(3)], _metres(m.group(1), unit)
        else:
            m = _ZH_SIDE.search(text)
            if m:
                bearing, distance = BEARINGS[m.group(1)], SIDE_M
    if m:
        parts.append(m.group(0))
        text = text[: m.start()] + " " * len(m.group(0)) + text[m.end():]
    opposite = _OPPOSITE.search(text)
    if opposite:
        parts.append(opposite.group(0))
        text = _OPPOSITE.sub(_blank, text)
    vague = _VAGUE.search(text)
    if vague:
        parts.append(vague.group(0))
        text = _VAGUE.sub(_blank, text)
    return text, Relation(bearing, distance, bool(opposite), bool(vague), " ".join(parts))
