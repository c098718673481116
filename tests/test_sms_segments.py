"""SMS segment counting, and every reply template measured as the resident would receive it."""

from __future__ import annotations

import string
from functools import cache

import pytest

from bot.engine import MY_CASES_SHOWN
from bot.handlers.sms.handler import twiml
from bot.handlers.sms.rules import render, segments
from bot.i18n import catalog, t
from bot.types import Choice, Reply
from categories import load_tree

# Not messages of their own: status names, and the pieces a closure notice is fitted from (its
# note is shortened to the room left; the after-photo link, a signed URL of about 150 ASCII
# characters, is what can push a Chinese closure notice to a third segment).
NOT_REPLIES = {"status_names", "note_words", "photo_words"}


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2),  # the escape pair is not split across parts
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
        ("井" * 70, "UCS-2", 1),
        ("井" * 71, "UCS-2", 2),
        ("井" * 134, "UCS-2", 2),
        ("井" * 135, "UCS-2", 3),
        ("a" * 159 + "井", "UCS-2", 3),  # one Chinese character turns the whole text into UCS-2
        ("😀" * 35, "UCS-2", 1),  # astral characters take two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
        ("a" * 66 + "😀" + "a" * 5, "UCS-2", 2),  # the surrogate pair is not split
    ],
)
def test_segment_counts(text, encoding, count):
    result = segments(text)
    assert (result.encoding, result.count) == (encoding, count)


def test_choices_are_spelled_out_only_when_the_text_does_not_name_them():
    assert render(Reply("照片已收到。回复1提交，0取消。", [Choice("1", "提交"), Choice("0", "取消")])) \
        == "照片已收到。回复1提交，0取消。"
    assert render(Reply("请评价", [Choice("1", "★"), Choice("2", "★★")])) == "请评价 1=★ 2=★★"
    assert twiml([Reply("a & b")]) == ('<?xml version="1.0" encoding="UTF-8"?>'
                                       "<Response><Message>a &amp; b</Message></Response>")


@cache
def realistic_values(lang: str) -> dict[str, str]:
    """Placeholder values as long as real ones get: the longest category names in the tree, a
    crossing with its suffix, a case number, three options, a full list of cases."""
    tree = load_tree()
    longest = sorted(tree, key=lambda c: len(c.name(lang)), reverse=True)
    longest_zh = max(tree, key=lambda c: len(c.name_zh))
    longest_en = max(tree, key=lambda c: len(c.name_en))
    number = "GI-20261122-000123"
    place = "淇滨大道与九州路交叉口附近" if lang == "zh" else "Qibin Ave & Jiuzhou Rd"
    status = max(catalog()["status_names"][lang].values(), key=len)
    return {
        "city": "鹤壁", "number": number, "original": "GI-20261121-000098", "place": place,
        "category": longest[0].name(lang), "status": status, "updated": "11-22 15:30",
        "options": "\n".join(f"{i} {c.name(lang)}" for i, c in enumerate(longest[:3], 1)),
        "range": "1-3", "referral": t("default_referral", lang), "limit": "2000", "mb": "10",
        "lines": "\n".join(f"{number} {c.name(lang)} {status}" for c in longest[:MY_CASES_SHOWN]),
        "more": "997",
        "department": "鹤壁市城市管理局" if lang == "zh" else "City Management Bureau",
        "reason": "不属于本市管辖范围" if lang == "zh" else "outside the city's remit",
        "category_zh": longest_zh.name_zh, "category_en": longest_en.name_en,
        "status_zh": catalog()["status_names"]["zh"]["in_progress"],
        "status_en": catalog()["status_names"]["en"]["in_progress"],
        # the platform's note and photo link are fitted into the room a notice has left
        # (cases.notices.fitted, shortened to the channel's two segments): measured without them
        "note": "", "photo": "", "days": "7", "code": "483920", "phone": "138****5678",
    }


def measured() -> list[tuple[str, str, int, int]]:
    rows = []
    for key, entry in catalog().items():
        if key in NOT_REPLIES:
            continue
        for lang in ("zh", "en"):
            names = {f for _, f, _, _ in string.Formatter().parse(entry[lang]) if f}
            values = realistic_values(lang)
            assert names <= set(values), f"{key}: no test value for {names - set(values)}"
            text = entry[lang].format(**values)
            rows.append((key, lang, len(text), segments(text).count))
    return rows


def test_every_chinese_reply_template_fits_two_segments():
    rows = measured()
    over = [(key, chars, count) for key, lang, chars, count in rows if lang == "zh" and count > 2]
    assert not over, f"Chinese replies over two SMS segments: {over}"
    more_than_one = sorted(key for key, lang, _, count in rows if lang == "zh" and count > 1)
    print("\nzh templates over one segment:", ", ".join(more_than_one) or "none")


def test_every_english_reply_template_fits_two_segments():
    over = [(key, chars, count) for key, lang, chars, count in measured() if lang == "en" and count > 2]
    assert not over, f"English replies over two SMS segments: {over}"


def test_sms_specific_templates_fit_one_segment():
    for key in ("sms_opted_out", "sms_opted_in", "hotline_case_sms", "rate_limited", "expired"):
        text = catalog()[key]["zh"].format(number="GI-20261122-000123")
        assert segments(text).count == 1, key
