"""The complaint inside a letter: the sentences that state the problem.

Residents' letters to a 市长信箱 or 12345 wrap the problem in greetings, background ("我是某小区
业主"), petition formulas (诚请…, 望有关部门…) and thanks; English reports add "Hi," and "Thanks".
The classifier reads a letter without them and shows the sentences stating the problem as
evidence (the place is looked for there first). Short messages (one sentence, or at most
``SHORT`` characters) are read whole, as before.

A sentence scores by the class keywords it holds (the keyword scorer's weights) and by problem
cues (坏, 堵, 占道, 噪音, broken, blocked …); formulas and background score below zero and are
not read. The rest is read best first up to ``BUDGET`` characters, in the letter's order; the
sentences scoring at least half the best score are the evidence. Reading only the evidence
sentences was measured too: on the real Chinese letters it lost accuracy (titles such as
"噪音扰民。" alone lose the detail), so the model keeps the context.
Only the first ``READ_AT_MOST`` characters (``MAX_SENTENCES`` sentences) of a text are read at
all, so a 10,000-character paste costs what a long letter costs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

SHORT = 60  # characters: a message this short is read whole
BUDGET = 500  # characters of a letter the classifier reads
READ_AT_MOST = 800  # characters of a text considered at all (letters run 100–300)
MAX_SENTENCES = 30
KEEP_SHARE = 0.5  # a sentence states the problem when it scores at least this share of the best
MAX_EVIDENCE = 3  # sentences shown as evidence
MIN_LETTERS = 2  # distinct letters (Han or Latin) below which a text says nothing

_SPLIT = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.…])\s+|\s*\n\s*")
_GREETING = re.compile(
    r"^\s*(?:(?:尊敬|敬爱|亲爱)的[^，,：:。]{0,16}[，,：:]?\s*)?(?:[^，,：:。]{0,8}(?:领导|市长|书记|同志|"
    r"工作人员|局长|主任|老师)[们]?)?[，,：:]?\s*(?:你们好|您们好|您好|你好|大家好)[！!，,。.\s]*"
    r"|^\s*(?:hi|hello|hey|dear [^,]{0,30}|good (?:morning|afternoon|evening))\b[,!.:\s]*",
    re.IGNORECASE)
_FORMULA = re.compile(
    r"谢谢|感谢|辛苦了|此致|敬礼|盼复|期待(?:您的)?回复|望回复|请回复|万分感激|不胜感激|"
    r"诚请|恳请|恳求|望有关部门|望相关部门|希望有关部门|希望相关部门|请有关部门|请相关部门|"
    r"望领导|请领导|希望领导|希望政府|请政府|给予解决|予以解决|尽快处理|尽快解决|重视|"
    r"\b(?:thanks|thank you|regards|cheers|many thanks|please (?:fix|sort|look|deal|investigate)|"
    r"asap|kind regards)\b", re.IGNORECASE)
_BACKGROUND = re.compile(
    r"^(?:我是|我们是|本人|我家住|我住在|居住在|我们小区(?:是|建于|位于)|小区(?:建于|始建)|"
    r"我于|我在\d|多年来|一直以来)|\b(?:i live|i am a resident|we live)\b", re.IGNORECASE)
_CUE = re.compile(
    r"坏|破|损|堵|塞|漏|塌|陷|缺|丢|没了|不亮|占道|乱|违[章规法建]|私搭|噪音|扰民|吵|臭|脏|"
    r"污染|垃圾|积水|烟|尘|遗撒|乱停|乱放|摆摊|小广告|涂鸦|堆放|倒|断|歪|松动|隐患|危险|"
    r"\b(?:broken|blocked|missing|damaged|dumped|overflowing|flooded|leaking|out|pothole|"
    r"graffiti|fly|overgrown|abandoned|noise|dangerous|loose|cracked|hazard)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Letter:
    """What the classifier reads (``text``: the whole of a short message; a letter without its
    greetings, formulas and background) and the sentences stating the problem (``evidence``,
    empty for a short message)."""

    text: str
    evidence: tuple[str, ...] = ()


def sentences(text: str) -> list[str]:
    """Sentences and lines of ``text`` (stripped, non-empty), in order."""
    return [s.strip() for s in _SPLIT.split(text) if s and s.strip()]


def strip_greeting(sentence: str) -> str:
    """The sentence without a leading greeting ("您好，", "Hi,")."""
    return _GREETING.sub("", sentence, count=1).strip()


def score(sentence: str, keyword_weight: Callable[[str], float]) -> float:
    """How much a sentence looks like the statement of a problem."""
    value = keyword_weight(sentence) + 0.5 * min(len(_CUE.findall(sentence)), 4)
    if _FORMULA.search(sentence):
        value -= 1.0
    if _BACKGROUND.search(sentence):
        value -= 1.0
    return value


def read(text: str, keyword_weight: Callable[[str], float]) -> Letter:
    """The problem sentences of ``text`` (``keyword_weight``: the summed class-keyword weight
    found in a sentence)."""
    if len({c for c in text[:READ_AT_MOST] if c.isalpha()}) < MIN_LETTERS:
        return Letter("")  # nothing to read: "", emoji, punctuation, "aaaa…", binary junk
    if len(text) <= SHORT:
        return Letter(text)
    parts = [p for p in (strip_greeting(s) for s in sentences(text[:READ_AT_MOST])) if p]
    parts = parts[:MAX_SENTENCES]
    if len(parts) <= 1:
        return Letter(text[:READ_AT_MOST]) if len(text) > READ_AT_MOST else Letter(text)
    scores = [score(p, keyword_weight) for p in parts]
    best = max(scores)
    kept = [i for i, s in enumerate(scores) if s >= 0] or list(range(len(parts)))
    chosen, used = [], 0
    for i in sorted(kept, key=lambda i: (-scores[i], i)):
        if used and used + len(parts[i]) > BUDGET:
            continue
        chosen.append(i)
        used += len(parts[i])
    problem = [i for i in range(len(parts)) if scores[i] > 0 and scores[i] >= KEEP_SHARE * best]
    return Letter(" ".join(parts[i][:BUDGET] for i in sorted(chosen)),
                  tuple(parts[i] for i in problem[:MAX_EVIDENCE]))
