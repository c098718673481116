"""Pull the place (as written) and mainland phone numbers out of a resident's message.

Places are assembled from small pieces found in the text — gazetteer names (from ``geo`` when
available), names recognised by their suffix (…路, …小区, …医院), house/building/unit numbers,
junction words (交叉口, 路口) and relations (门口, 对面, 往东50米) — and the longest adjacent run
that contains a name wins. Character patterns are used rather than token patterns because jieba
splits addresses unpredictably ("往东50米路灯" → 往东/50/米路/灯).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from nlp.normalize import simplified
from nlp.phrases import PhraseIndex
from nlp.tokenize import gazetteer_names

_STOP = (
    "在的了个那这是我你他她它们有就到从去往和与跟同及上下边口坏没掉旁对面附近"
    "被把让给说请帮都也还又很太好啊吧呢吗呀着过为但而或要想看家门前后"
)
_SUFFIX = (
    "大道|大街|小区|花园|家园|家属院|广场|公园|医院|卫生院|学校|中学|小学|大学|幼儿园|商场|超市|"
    "市场|菜市场|银行|酒店|宾馆|大厦|社区|公寓|中心|车站|火车站|汽车站|东站|西站|南站|北站|"
    "路(?!口|灯|面|边|牌|况|过|人|线|沿|段|上)|街(?!边|上|道办)|巷|胡同|村|桥|苑|站(?!着|在)"
)
_NAME_ZH = re.compile(rf"(?:(?![{_STOP}])[\u4e00-\u9fff0-9]){{1,7}}(?:{_SUFFIX})")
_NAME_EN = re.compile(
    r"\b(?:\d+\s+)?(?:[A-Z][a-z]+\s+){1,3}(?:Road|Rd|Street|St|Avenue|Ave|Lane|Square|Park|Station|Hospital|School)\b"
)
_NUM = re.compile(
    r"(?:\d+|[一二三四五六七八九十]+)(?:号院|号楼|号|栋|幢|单元|楼|层|室|户|排)|(?:[a-zA-Z]\d*)(?:栋|座|区)"
)
_JUNCTION = re.compile(r"交叉口|十字路口|丁字路口|路口|交汇处|交口|拐角|转角")
_RELATION = re.compile(
    r"(?:往|向|朝)?[东南西北](?:边|侧|面)?(?:大约|约)?\d+(?:米|m)|"
    r"门口|门前|对面|旁边|附近|隔壁|后面|前面|里面|楼下|楼道|东侧|西侧|南侧|北侧|东边|西边|南边|北边|"
    r"\b(?:near|opposite|outside|behind|next to|in front of)\b"
)
_CONNECTOR = re.compile(r"[与和跟同及、/]|\band\b|&")
_GAP_OK = set(" 的,")

_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[\s\-]?)?(1[3-9]\d(?:[\s\-]?\d){8})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3})[\s\-]?\d{7,8}(?!\d)")


@dataclass(frozen=True)
class _Atom:
    start: int
    end: int
    kind: str  # name | num | rel | conn


@lru_cache(maxsize=1)
def _gazetteer() -> PhraseIndex[str]:
    names = gazetteer_names()
    return PhraseIndex(((n, n) for n in names if len(n) >= 2), fuzzy_min_len=99)


def _atoms(text: str) -> list[_Atom]:
    atoms = [_Atom(h.start, h.end, "name") for h in _gazetteer().find(text)]
    taken = [(a.start, a.end) for a in atoms]

    def free(s: int, e: int) -> bool:
        return all(e <= ts or s >= te for ts, te in taken)

    patterns = ((_JUNCTION, "rel"), (_NAME_ZH, "name"), (_NAME_EN, "name"), (_NUM, "num"),
                (_RELATION, "rel"), (_CONNECTOR, "conn"))
    for regex, kind in patterns:
        for m in regex.finditer(text):
            if m.end() > m.start() and free(m.start(), m.end()):
                atoms.append(_Atom(m.start(), m.end(), kind))
                taken.append((m.start(), m.end()))
    return sorted(atoms, key=lambda a: a.start)


def _runs(text: str, atoms: list[_Atom]) -> list[list[_Atom]]:
    runs: list[list[_Atom]] = []
    for atom in atoms:
        if runs:
            gap = text[runs[-1][-1].end:atom.start]
            if len(gap) <= 1 and all(ch in _GAP_OK for ch in gap):
                runs[-1].append(atom)
                continue
        runs.append([atom])
    out = []
    for run in runs:
        while run and run[0].kind == "conn":
            run = run[1:]
        while run and run[-1].kind == "conn":
            run = run[:-1]
        kinds = [a.kind for a in run]
        if "name" in kinds or (kinds.count("num") >= 2):
            out.append(run)
    return out


def extract_place(text: str) -> str | None:
    """The place as the resident wrote it (simplified script), or None."""
    return place_in(simplified(text))


def place_in(shown: str) -> str | None:
    """``extract_place`` of a text already width-folded and simplified (``Normalized.simplified``),
    which is what geocoding receives."""
    runs = _runs(shown, _atoms(shown))
    if not runs:
        return None
    best = max(runs, key=lambda r: (sum(a.kind == "name" for a in r), r[-1].end - r[0].start))
    return shown[best[0].start:best[-1].end].strip(" ,的")


# Digits as callers say them and operators type them: 一三八…, 幺 (1), 两 (2), 洞 (0).
_SPOKEN = str.maketrans("零〇洞幺一二两三四五六七八九", "00011223456789")
_SPOKEN_RUN = re.compile(r"[零〇洞幺一二两三四五六七八九0-9][零〇洞幺一二两三四五六七八九0-9\s\-]{6,}")


def _spoken_digits(text: str) -> str:
    """Runs of seven or more spoken digits as ASCII digits (a phone number read out); shorter
    runs ("一二楼", "三四个") are words and stay."""
    def digits(match: re.Match[str]) -> str:
        run = match.group()
        spoken = sum(ch in "零〇洞幺一二两三四五六七八九" for ch in run)
        return run.translate(_SPOKEN) if spoken and sum(ch.isalnum() for ch in run) >= 7 else run
    return _SPOKEN_RUN.sub(digits, text)


def extract_phones(text: str) -> list[str]:
    """Mainland mobile (13812345678) and landline (0392-1234567) numbers, de-duplicated, also
    when spoken as Chinese digits (一三八零零零一二三四五)."""
    shown = _spoken_digits(unicodedata.normalize("NFKC", text))
    found: list[tuple[int, str]] = []
    for m in _MOBILE.finditer(shown):
        found.append((m.start(), re.sub(r"\D", "", m.group(1))))
    for m in _LANDLINE.finditer(shown):
        digits = re.sub(r"\D", "", m.group(0))
        area = 3 if digits[:3] in ("010",) or digits[1] == "2" else 4
        found.append((m.start(), f"{digits[:area]}-{digits[area:]}"))
    return list(dict.fromkeys(p for _, p in sorted(found)))
