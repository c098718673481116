"""Hotline transcripts: keep only what the caller said.

The operator's turns repeat category words ("您是说井盖吗？") and the hotline's own phrases, which
would mislead both the classifier and the place extraction.
"""

from __future__ import annotations

import re

_CITIZEN = ("市民", "来电人", "来电者", "来电", "居民", "群众", "用户", "caller", "citizen", "resident")
_STAFF = ("话务员", "坐席", "客服", "接线员", "工作人员", "operator", "agent", "staff", "dispatcher")
_SPEAKER = re.compile(
    r"(?:^|(?<=[\s。！？!?.;；]))(" + "|".join(_CITIZEN + _STAFF) + r")\s*[:：]",
    re.IGNORECASE,
)


def is_transcript(text: str) -> bool:
    speakers = {m.group(1).lower() for m in _SPEAKER.finditer(text)}
    return any(s in _CITIZEN for s in speakers)


def extract_transcript_citizen_text(text: str) -> str:
    """The caller's turns joined by a space; ``text`` unchanged when it is not a transcript."""
    marks = list(_SPEAKER.finditer(text))
    if not marks or not is_transcript(text):
        return text
    turns = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        if m.group(1).lower() in _CITIZEN:
            turn = text[m.end():end].strip()
            if turn:
                turns.append(turn)
    return " ".join(turns)
