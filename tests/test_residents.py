"""One resident across channels: a Telegram chat links to the phone that texted us only with
the code sent to that phone; linked identities share their cases, language and consent, keep
their own opt-outs, hear notices on the channel used last, and can be unlinked."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.i18n import t
from bot.oneshot import file_report
from bot.types import Inbound
from cases import residents
from cases.notices import audience
from storage.db import transaction
from storage.models import Case, Outbox, Reporter
from tests.conftest import make_runtime

PHONE = "+8613800001234"


@pytest.fixture
def runtime(tmp_path, database_url):
    rt = make_runtime(tmp_path / "var", database_url)
    yield rt
    rt.db.dispose()


class Chat:
    def __init__(self, runtime, channel: str, sender: str):
        self.runtime, self.channel, self.sender, self.n = runtime, channel, sender, 0

    def say(self, text: str) -> str:
        self.n += 1
        outcome = self.runtime.engine.handle(Inbound(channel=self.channel, sender=self.sender,
                                                     key=f"{self.sender}-{self.n}", text=text))
        return "\n".join(r.text for r in outcome.replies)


def sms_codes(runtime) -> list[str]:
    with transaction(runtime.sessions) as session:
        rows = session.scalars(select(Outbox).where(Outbox.target == PHONE)
                               .order_by(Outbox.id)).all()
        return [m.group(0) for r in rows if (m := re.search(r"\d{6}", r.payload["text"]))]


def reporter(runtime, channel: str, sender: str) -> Reporter:
    with transaction(runtime.sessions) as session:
        found = session.scalar(select(Reporter).where(Reporter.channel == channel,
                                                      Reporter.channel_user_id == sender))
        session.expunge(found)
        return found


def test_telegram_links_to_the_phone_with_the_code_sent_by_sms(runtime):
    sms_case = file_report(runtime, text="九州路口井盖坏了", lat=35.747, lon=114.297,
                           channel="sms", sender=PHONE, phone=PHONE)["number"]
    tg = Chat(runtime, "telegram", "tg-7")
    assert t("my_cases_none", "zh") in tg.say("/mycases")
    answer = tg.say("/link 13800001234")
    assert answer == t("link_code_sent", "zh")
    [code] = sms_codes(runtime)
    assert code not in answer  # the code goes to the phone only
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert tg.say(f"/link {wrong}") == t("link_failed", "zh")
    assert reporter(runtime, "telegram", "tg-7").resident_id is None
    assert tg.say(f"绑定 {code}") == t("linked", "zh")
    assert reporter(runtime, "telegram", "tg-7").resident_id == \
        reporter(runtime, "sms", PHONE).resident_id is not None
    assert sms_case in tg.say("/mycases")  # 我的案件 lists the SMS case too
    assert tg.say(f"/link {code}") == t("link_failed", "zh")  # a code works once
    assert tg.say("/unlink") == t("unlinked", "zh")
    assert sms_case not in tg.say("/mycases")
    assert reporter(runtime, "sms", PHONE).resident_id is None


def test_nothing_is_linked_to_a_phone_that_never_texted(runtime):
    tg = Chat(runtime, "telegram", "tg-8")
    assert tg.say("/link 13900009999") == t("link_no_phone", "zh")
    assert tg.say("/link") == t("link_usage", "zh")
    with transaction(runtime.sessions) as session:
        assert session.scalars(select(Outbox)).all() == []


def test_linked_identities_share_language_and_consent_but_not_opt_outs(runtime):
    file_report(runtime, text="九州路口井盖坏了", lat=35.747, lon=114.297, channel="sms",
                sender=PHONE, phone=PHONE)
    tg = Chat(runtime, "telegram", "tg-9")
    tg.say("/lang en")
    tg.say("/link 13800001234")
    tg.say(f"/link {sms_codes(runtime)[-1]}")
    assert reporter(runtime, "sms", PHONE).language == "en"  # the prover's language
    tg.say("/lang zh")
    assert reporter(runtime, "sms", PHONE).language == "zh"
    with transaction(runtime.sessions) as session:
        sms = session.scalar(select(Reporter).where(Reporter.channel == "sms"))
        sms.unreachable = True  # STOP on SMS
    assert reporter(runtime, "telegram", "tg-9").unreachable is False


def test_notices_go_to_the_channel_used_last_and_skip_an_opted_out_one(runtime):
    number = file_report(runtime, text="九州路口井盖坏了", lat=35.747, lon=114.297, channel="sms",
                         sender=PHONE, phone=PHONE)["number"]
    sms = Chat(runtime, "sms", PHONE)
    tg = Chat(runtime, "telegram", "tg-10")
    tg.say("/link 13800001234")
    tg.say(f"/link {sms_codes(runtime)[-1]}")

    def routed() -> str:
        with transaction(runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            [only] = audience(session, case)  # one person, told once
            return only.channel

    assert routed() == "telegram"  # the Telegram chat wrote last
    sms.say("帮助")
    assert routed() == "sms"
    with transaction(runtime.sessions) as session:
        session.scalar(select(Reporter).where(Reporter.channel == "sms")).unreachable = True
    assert routed() == "telegram"  # an SMS STOP is an SMS STOP, the resident still hears


def test_an_operator_links_a_caller_only_from_the_residents_own_number(runtime):
    with transaction(runtime.sessions) as session:
        sms = Reporter(channel="sms", channel_user_id=PHONE, phone=PHONE)
        caller = Reporter(channel="hotline", channel_user_id="call:1", phone=PHONE)
        stranger = Reporter(channel="hotline", channel_user_id="call:2", phone="+8613900000000")
        session.add_all([sms, caller, stranger])
        session.flush()
        with pytest.raises(residents.LinkError):
            residents.operator_link(session, stranger, sms)
        resident = residents.operator_link(session, caller, sms)
        assert {r.id for r in residents.identities(session, sms)} == {sms.id, caller.id}
        assert resident.id == sms.resident_id


def test_link_without_a_number_offers_the_contact_button_and_a_shared_contact_works(runtime):
    file_report(runtime, text="九州路口井盖坏了", lat=35.747, lon=114.297, channel="sms",
                sender=PHONE, phone=PHONE)
    [reply] = runtime.engine.handle(Inbound("telegram", "tg-11", "k1", text="/link")).replies
    assert reply.request_contact and reply.text == t("link_usage", "zh")
    tg = Chat(runtime, "telegram", "tg-11")
    assert tg.say("/link 8613800001234") == t("link_code_sent", "zh")  # Telegram's contact form


def test_a_resident_chooses_the_channel_for_notices(runtime):
    number = file_report(runtime, text="九州路口井盖坏了", lat=35.747, lon=114.297, channel="sms",
                         sender=PHONE, phone=PHONE)["number"]
    tg = Chat(runtime, "telegram", "tg-12")
    assert tg.say("/notify sms") == t("notify_unknown", "zh")  # not linked yet
    tg.say("/link 13800001234")
    tg.say(f"/link {sms_codes(runtime)[-1]}")
    assert tg.say("/notify wechat") == t("notify_unknown", "zh")  # not one of theirs
    assert tg.say("/notify sms") == t("notify_set", "zh")
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        [only] = audience(session, case)
        assert only.channel == "sms"  # chosen, though Telegram wrote last


def test_an_operator_links_a_filed_call_over_http(runtime):
    from gateway.app import create_app
    from tests.support.users import add_user

    file_report(runtime, text="九州路口井盖坏了", lat=35.747, lon=114.297, channel="sms",
                sender=PHONE, phone=PHONE)
    token = add_user(runtime, "wang", "operator")
    client = create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    call = {"call_id": "C-9", "caller_phone": "13800001234", "transcript": "市民：九州路口井盖坏了"}
    assert client.post("/api/v1/transcripts", json=call, headers=auth).status_code == 201
    assert client.post("/api/v1/transcripts/C-9/link").status_code == 401
    linked = client.post("/api/v1/transcripts/C-9/link", headers=auth)
    assert linked.status_code == 200
    assert {(r["channel"], r["id"]) for r in linked.get_json()["linked"]} == {
        ("hotline", "call:C-9"), ("sms", PHONE)}
    other = {**call, "call_id": "C-10", "caller_phone": "13900000000"}
    client.post("/api/v1/transcripts", json=other, headers=auth)
    assert client.post("/api/v1/transcripts/C-10/link", headers=auth).status_code == 409
    assert client.post("/api/v1/transcripts/C-11/link", headers=auth).status_code == 404
