""""My cases" over SMS stays within two segments however many cases a resident has: the most
recent few with the longest category and status names, then how many more and how to ask."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from bot.engine import MY_CASES_SHOWN
from bot.handlers.sms.rules import segments
from categories import load_tree
from storage.db import transaction
from storage.models import Case, Reporter
from tests.support.sms import Texter

ASK = {"zh": "我的案件", "en": "my cases"}
MORE = {"zh": re.compile(r"另有(\d+)件"), "en": re.compile(r"(\d+) more\.")}


def reply_text(twiml: str) -> str:
    [message] = re.findall(r"<Message>(.*?)</Message>", twiml, re.S)
    return unescape(message)


def give_cases(runtime, phone: str, lang: str, count: int) -> list[str]:
    """`count` cases of the longest-named category in the longest-named status; their numbers."""
    longest = max(load_tree(), key=lambda c: len(c.name(lang)))
    numbers = [f"GI-20261122-{i:06d}" for i in range(1, count + 1)]
    with transaction(runtime.sessions) as session:
        reporter = session.scalar(select(Reporter).where(Reporter.channel_user_id == phone))
        reporter.language = lang
        for number in numbers:
            session.add(Case(number=number, label=longest.label, text="示例", channel="sms",
                             reporter=reporter, status="needs_location", language=lang))
    return numbers


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("count", [0, 1, 3, 10])
def test_my_cases_fits_two_segments(sms_client, sms_runtime, lang, count):
    texter = Texter(sms_client, phone=f"+86138000{count:02d}{len(lang)}77")
    texter.say("帮助")  # the resident exists
    numbers = give_cases(sms_runtime, texter.phone, lang, count)

    text = reply_text(texter.say(ASK[lang]))

    assert segments(text).count <= 2, (len(text), text)
    shown = re.findall(r"GI-\d{8}-\d{6}", text)
    assert shown == numbers[::-1][:MY_CASES_SHOWN]  # newest first
    more = MORE[lang].search(text)
    assert (int(more.group(1)) if more else 0) == max(count - MY_CASES_SHOWN, 0)
    if more:
        assert ("查询" if lang == "zh" else "STATUS") in text
    if count == 0:
        assert text in ("您还没有上报过案件。", "You have not reported any case yet.")
