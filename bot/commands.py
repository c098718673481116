"""Recognise commands the same way on every channel: /slash forms and SMS keywords (zh/en)."""

from __future__ import annotations

import re
from dataclasses import dataclass

SLASH = {
    "start": "start", "help": "help", "report": "report", "status": "status",
    "mycases": "mycases", "cancel": "cancel", "lang": "lang", "language": "lang",
    "link": "link", "unlink": "unlink", "notify": "notify",
}
# Whole-message keywords, matched case-insensitively after trimming.
KEYWORDS = {
    "帮助": "help", "help": "help", "?": "help", "？": "help", "bz": "help",
    "查询": "status", "cx": "status", "status": "status", "状态": "status",
    "我的案件": "mycases", "我的": "mycases", "my cases": "mycases", "mycases": "mycases",
    "取消": "cancel", "cancel": "cancel", "qx": "cancel",
    "en": "lang", "english": "lang", "zh": "lang", "中文": "lang",
    "解绑": "unlink", "unlink": "unlink",
}
LANG_KEYWORDS = {"en": "en", "english": "en", "zh": "zh", "中文": "zh"}
# With or without the GI- prefix: residents copy "20261204000003" as often as "GI-20261204-000003".
CASE_NUMBER = re.compile(r"(?<![0-9A-Z])(?:GI-?)?20\d{6}-?\d{6}(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    name: str  # start | help | report | status | mycases | cancel | lang | link | unlink | notify
    #            | unknown
    arg: str = ""


def normalize_case_number(text: str) -> str | None:
    match = CASE_NUMBER.search(text.replace(" ", ""))
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group())
    return f"GI-{digits[:8]}-{digits[8:]}"


def parse_command(text: str) -> Command | None:
    text = text.strip()
    if not text:
        return None
    if text.startswith("/"):
        head, _, arg = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        return Command(SLASH.get(name, "unknown"), arg.strip())
    lowered = text.lower()
    if lowered in KEYWORDS:
        name = KEYWORDS[lowered]
        return Command(name, LANG_KEYWORDS.get(lowered, ""))
    if CASE_NUMBER.fullmatch(text.replace(" ", "")):
        return Command("status", text)
    head, _, arg = lowered.partition(" ")
    if head in ("绑定", "link"):  # 绑定 13800001234, then 绑定 123456 (the code)
        return Command("link", text[len(head):].strip())
    if head in ("查询", "cx", "status", "状态") or (
        lowered.startswith("查询") and normalize_case_number(text)
    ):
        return Command("status", text[len(head):].strip() if arg else text[2:].strip())
    return None
