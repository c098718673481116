"""Normalisation, language detection, place and phone extraction, hotline transcripts."""

from __future__ import annotations

import pytest

from nlp import extract_phones, extract_place, extract_transcript_citizen_text
from nlp.normalize import detect_language, normalize, normalize_text


@pytest.mark.parametrize(("raw", "canonical"), [
    ("路燈壞了", "路灯坏了"),
    ("ＡＢＣ１２３", "abc123"),
    ("井盖没了😡😡！！！！", "井盖没了!"),
    ("  马葫芦   盖 没了  ", "马葫芦盖没了"),
    ("Street   Light ... broken!!!", "street light . broken!"),
])
def test_normalize(raw, canonical):
    assert normalize_text(raw) == canonical


def test_normalize_keeps_original():
    norm = normalize("路燈壞了！！")
    assert norm.original == "路燈壞了！！" and norm.text == "路灯坏了!" and norm.lang == "zh"


@pytest.mark.parametrize(("text", "lang"), [
    ("井盖没了", "zh"), ("manhole cover missing", "en"), ("KFC门口井盖没了", "zh"),
    ("the light near 人民公园 is out", "en"),
])
def test_language(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize(("text", "place"), [
    ("淇滨大道188号门口井盖没了", "淇滨大道188号门口"),
    ("九州路与华山路交叉口红绿灯坏了", "九州路与华山路交叉口"),
    ("朝歌路和黎阳路路口有个大坑", "朝歌路和黎阳路路口"),
    ("建业森林半岛小区3号楼2单元楼下垃圾没人清", "建业森林半岛小区3号楼2单元楼下"),
    ("鹤壁东站对面天天有人摆摊", "鹤壁东站对面"),
    ("人民医院往东50米路灯不亮", "人民医院往东50米"),
    ("華山路與興鶴大街交叉口", "华山路与兴鹤大街交叉口"),
    ("在淇滨大道上有个坑", "淇滨大道"),
    ("the street light at 25 Jiuzhou Road is broken", "25 Jiuzhou Road"),
])
def test_place(text, place):
    assert extract_place(text) == place


@pytest.mark.parametrize("text", ["路灯又不亮了黑乎乎的", "谢谢", "井盖坏了差点崴脚"])
def test_no_place(text):
    assert extract_place(text) is None


@pytest.mark.parametrize(("text", "phones"), [
    ("电话13812345678", ["13812345678"]),
    ("打 +86 138-1234-5678 找我", ["13812345678"]),
    ("手机 86 139 1234 5678", ["13912345678"]),
    ("座机0392-1234567", ["0392-1234567"]),
    ("(0392)7654321 或 010-87654321", ["0392-7654321", "010-87654321"]),
    ("１３８１２３４５６７８", ["13812345678"]),
    ("12345热线、订单号2023123456789、12812345678", []),
])
def test_phones(text, phones):
    assert extract_phones(text) == phones


def test_transcript_keeps_only_citizen_turns():
    text = ("话务员：您好，12345热线，请问有什么可以帮您？\n"
            "市民：我家楼下淇滨大道188号的井盖没了。\n"
            "话务员：好的，是路灯井盖吗？\n"
            "市民：不知道，就是个盖子，我电话13812345678")
    cited = extract_transcript_citizen_text(text)
    assert "井盖没了" in cited and "13812345678" in cited
    assert "12345热线" not in cited and "路灯井盖" not in cited


@pytest.mark.parametrize("text", [
    "来电人: 路灯不亮 坐席: 哪条路？ 来电人: 九州路",
    "Caller: the street light is out. Operator: which road? Caller: Jiuzhou Road",
    "群众：路灯不亮 客服：收到 群众：九州路",
])
def test_transcript_speaker_variants(text):
    cited = extract_transcript_citizen_text(text)
    assert ("路灯不亮" in cited or "street light" in cited)
    assert "哪条路" not in cited and "which road" not in cited and "收到" not in cited


def test_plain_text_is_not_a_transcript():
    text = "时间：晚上八点，路灯不亮"
    assert extract_transcript_citizen_text(text) == text
