"""Hotline transcripts: an operator's typed call becomes a case, filed from the caller's words.

One call is one case, idempotent on `call_id`: the transcript is stored raw first (inbox, channel
`hotline`), claimed, filed with `oneshot.file_report`, and the row keeps the case number so a
repeated call id answers with the same case. A call that is not a city-management problem (the
operator's `none`, or the classifier's) is logged as a referral on its row, not filed: the caller
is texted the topic's own number (12333, 12366, …) when they agreed to texts. The API, the
operator page and the CSV import all come through `file_transcript`.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.handlers.sms.rules import e164
from bot.i18n import t
from bot.inbox import InProgress, claim_for_filing, hold
from bot.oneshot import file_report
from bot.types import Inbound
from cases.outbox import enqueue
from cases.serialize import case_to_json
from categories import NONE_LABEL
from storage.db import transaction
from storage.models import Case, InboundMessage, Reporter, utcnow
from storage.states import InboundStatus
from storage.text import storable

log = logging.getLogger(__name__)
CHANNEL = "hotline"
MAX_TRANSCRIPT_CHARS = 20_000
TRUE = {"1", "true", "yes", "y", "是", "同意", "on"}
FALSE = {"", "0", "false", "no", "n", "否", "不同意", "off"}
FIELDS = ("call_id", "caller_phone", "operator_id", "transcript", "place", "label", "consent_sms")


class TranscriptError(ValueError):
    """The transcript or one of its fields cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Transcript:
    call_id: str
    transcript: str
    caller_phone: str | None = None
    operator_id: str | None = None
    place: str | None = None
    label: str | None = None
    consent_sms: bool = False


@dataclass(frozen=True)
class Filed:
    result: str  # created | duplicate | referral
    case: dict[str, Any]  # the case; for a referral {"number": None, "referral", "topic"}
    sms_queued: bool = False


def normalize_phone(raw: str) -> str:
    """E.164, so the SMS channel and the caller's later texts meet on the same number."""
    phone = e164(raw)
    if phone is None:
        raise TranscriptError(f"caller_phone {raw!r} is not a phone number (e.g. 13800001234 or +86…)")
    return phone


def transcript_text(value: Any) -> str:
    """Free text as is; turns (`[{"speaker": "市民", "text": "…"}]` or pairs) as 'speaker: text'."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        lines = []
        for turn in value:
            if isinstance(turn, dict):
                speaker, text = turn.get("speaker", ""), turn.get("text", "")
            elif isinstance(turn, list | tuple) and len(turn) == 2:
                speaker, text = turn
            else:
                raise TranscriptError("each turn must be {speaker, text} or [speaker, text]")
            if not isinstance(speaker, str) or not isinstance(text, str):
                raise TranscriptError("a turn's speaker and text must be strings")
            lines.append(f"{speaker}: {text.strip()}")
        return "\n".join(lines)
    raise TranscriptError("transcript must be text or a list of turns")


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise TranscriptError(f"{name} must be true or false, not {value!r}")


def _optional(data: dict, name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise TranscriptError(f"{name} must be a string")
    value = str(value).strip()
    if len(value) > limit:
        raise TranscriptError(f"{name} is longer than {limit} characters")
    return value or None


def parse(data: Any) -> Transcript:
    if not isinstance(data, dict):
        raise TranscriptError("expected a JSON object with call_id and transcript")
    data = storable(data)
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise TranscriptError(f"unknown field(s): {', '.join(sorted(unknown))}")
    call_id = _optional(data, "call_id", 120)
    if not call_id:
        raise TranscriptError("call_id is required")
    text = transcript_text(data.get("transcript") or "")
    if not text:
        raise TranscriptError("transcript is empty")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise TranscriptError(f"transcript is {len(text)} characters; the limit is "
                              f"{MAX_TRANSCRIPT_CHARS}")
    phone = _optional(data, "caller_phone", 40)
    return Transcript(
        call_id=call_id, transcript=text,
        caller_phone=normalize_phone(phone) if phone else None,
        operator_id=_optional(data, "operator_id", 60),
        place=_optional(data, "place", 200), label=_optional(data, "label", 20),
        consent_sms=_flag(data.get("consent_sms"), "consent_sms"),
    )


# Staff turns: a transcript made only of these has no words from the caller. (The NLP extractor
# returns such a text unchanged, as it would a free-text note.)
STAFF_TURN = re.compile(r"(?:^|[\s。！？!?.;；])(?:话务员|坐席|客服|接线员|operator|agent)\s*[:：]", re.I)
CITIZEN_TURN = re.compile(r"(?:^|[\s。！？!?.;；])(?:市民|来电人?|来电者|居民|群众|caller|citizen)\s*[:：]",
                          re.I)


def citizen_text(transcript: str) -> str:
    from nlp import extract_transcript_citizen_text

    if STAFF_TURN.search(transcript) and not CITIZEN_TURN.search(transcript):
        return ""
    return extract_transcript_citizen_text(transcript).strip()


def _check_fileable(runtime, call: Transcript) -> str:
    """What the case will be filed from; refused before anything is stored."""
    text = citizen_text(call.transcript)
    if not text:
        raise TranscriptError("the transcript has no words from the caller")
    limit = runtime.settings.bot.max_text_chars
    if len(text) > limit:
        raise TranscriptError(f"the caller's words are {len(text)} characters; the limit is {limit}")
    if call.label and call.label != "none" and call.label not in runtime.tree():
        raise TranscriptError(f"unknown label {call.label!r}")
    return text


def preview(runtime, transcript: str, place: str | None = None) -> dict[str, Any]:
    """What filing would extract now: category (with the runners-up), place and grid, phones."""
    text = citizen_text(transcript_text(transcript))
    if not text:
        raise TranscriptError("the transcript has no words from the caller")
    classification = runtime.classify(text)
    located = runtime.geo.geocode(place) if place else None
    located = located or runtime.intake.place_from_text(text, classification)
    tree = runtime.tree()
    return {
        "citizen_text": text,
        "label": classification.label,
        "category_name": classification.name,
        "confidence": round(classification.confidence, 4),
        "urgent": classification.urgent,
        "top": [{"label": s.label, "score": round(s.score, 4),
                 "name": tree.get(s.label).name_zh if s.label in tree else s.label}
                for s in classification.top[:3]],
        "place_text": place or classification.place_text,
        "place": located.to_json() if located else None,
        "phones": classification.phones,
    }


# ---- filing ----------------------------------------------------------------------------------

def _case(runtime, number: str) -> dict[str, Any]:
    with transaction(runtime.sessions) as session:
        return case_to_json(session.scalar(select(Case).where(Case.number == number)))


def _place_point(runtime, place: str | None) -> tuple[float | None, float | None]:
    if not place:
        return None, None
    located = runtime.geo.geocode(place)
    if located is None or located.cell is None:
        return None, None
    return located.lat, located.lon


def file_transcript(runtime, data: Any, *, actor: str) -> Filed:
    """File one call (or find the case it already made). Raises TranscriptError for bad input."""
    call = parse(data)
    text = _check_fileable(runtime, call)
    inbound = Inbound(channel=CHANNEL, sender=call.operator_id or actor, key=call.call_id,
                      text=call.transcript, phone=call.caller_phone,
                      payload={"transcript": data, "actor": actor})
    recorded = runtime.engine.inbox.record(inbound)
    answer = claim_for_filing(runtime.sessions, recorded.id)
    if answer is not None:  # the call was filed or referred already
        if "referral" in answer:
            return Filed("duplicate", _referral(answer))
        return Filed("duplicate", _case(runtime, answer["case_number"]))
    try:
        classification = runtime.classify(text)
        if (call.label or classification.label) == NONE_LABEL:
            return _refer(runtime, recorded.id, call, classification)
        lat, lon = _place_point(runtime, call.place)
        number = _filed_before(runtime, call.call_id) or file_report(
            runtime, text=text, lat=lat, lon=lon, channel=CHANNEL, phone=call.caller_phone,
            sender=f"call:{call.call_id}", label=call.label)["number"]
        queued = _finish(runtime, recorded.id, call, number, actor, lat is not None)
    except Exception as exc:
        hold(runtime.sessions, recorded.id, exc)
        if isinstance(exc, ValueError):
            raise TranscriptError(str(exc)) from None
        raise
    return Filed("created", _case(runtime, number), queued)


def _referral(reply: dict[str, Any]) -> dict[str, Any]:
    """What a referred call answers: no case, the number to call and the topic."""
    return {"number": None, "referral": reply["text"], "topic": reply["referral"]}


def _refer(runtime, row_id: int, call: Transcript, classification) -> Filed:
    """Log an out-of-scope call as a referral on its row; text the caller the topic's number."""
    topic = classification.evidence.get("out_of_scope") or {}
    lang = classification.language or "zh"
    referral = topic.get("referral") or t("default_referral", lang)
    with transaction(runtime.sessions) as session:
        queued = bool(call.consent_sms and call.caller_phone)
        if queued:
            enqueue(session, sink="sms", target=call.caller_phone,
                    key=f"hotline:{call.call_id}:referral",
                    payload={"text": referral, "choices": [], "language": lang})
        row = session.get(InboundMessage, row_id)
        row.status, row.processed_at = InboundStatus.PROCESSED, utcnow()
        row.replies = [{"text": referral, "choices": [], "request_location": False,
                        "referral": topic.get("topic") or NONE_LABEL}]
        log.info("hotline call %s referred (%s)", call.call_id, topic.get("topic") or NONE_LABEL)
        return Filed("referral", _referral(row.replies[0]), queued)


def _filed_before(runtime, call_id: str) -> str | None:
    """The case of a filing that crashed after the case was stored but before it was recorded."""
    with transaction(runtime.sessions) as session:
        return session.scalar(
            select(Case.number).join(Reporter, Case.reporter_id == Reporter.id)
            .where(Reporter.channel == CHANNEL, Reporter.channel_user_id == f"call:{call_id}"))


def _finish(runtime, row_id: int, call: Transcript, number: str, actor: str,
            operator_place: bool) -> bool:
    """Record the operator's facts on the case, the SMS to the caller, and the row's outcome."""
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        reporter = session.get(Reporter, case.reporter_id)
        reporter.consent_contact = call.consent_sms
        case.evidence = {**(case.evidence or {}), "hotline": {
            "call_id": call.call_id, "operator_id": call.operator_id, "actor": actor}}
        if operator_place:
            case.place_text, case.location_source = call.place, "operator"
        queued = False
        if call.consent_sms and call.caller_phone:
            lang = reporter.language
            enqueue(session, sink="sms", target=call.caller_phone, case_id=case.id,
                    key=f"hotline:{call.call_id}:filed", payload={
                        "text": t("hotline_case_sms", lang, number=number), "choices": [],
                        "language": lang, "reporter_id": reporter.id, "case": number})
            queued = True
        row = session.get(InboundMessage, row_id)
        row.status, row.reporter_id, row.processed_at = InboundStatus.PROCESSED, reporter.id, utcnow()
        row.replies = [{"text": t("hotline_case_sms", reporter.language, number=number),
                        "choices": [], "request_location": False, "case_number": number}]
    return queued


# ---- CSV batches -----------------------------------------------------------------------------

def _read_csv(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # spreadsheets saved on Chinese Windows
        return raw.decode("gb18030")


def import_csv(runtime, path: Path, actor: str = "import"):
    """Yield one report dict per data row: created / duplicate / error with the reason."""
    reader = csv.DictReader(io.StringIO(_read_csv(path), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = {"call_id", "transcript"} - set(header)
    if missing:
        raise TranscriptError(f"{path}: the header lacks {', '.join(sorted(missing))}; "
                              f"expected columns: {', '.join(FIELDS)}")
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        report: dict[str, Any] = {"line": line, "call_id": (row.get("call_id") or "").strip()}
        if None in row or any(v is None for v in row.values()):
            yield {**report, "result": "error", "reason": "wrong number of columns"}
            continue
        data = {k: v for k, v in row.items() if k in FIELDS and v.strip()}
        try:
            filed = file_transcript(runtime, data, actor=actor)
        except (TranscriptError, InProgress) as exc:
            yield {**report, "result": "error", "reason": str(exc)}
            continue
        except Exception as exc:  # one broken row must not stop the batch
            yield {**report, "result": "error", "reason": f"{type(exc).__name__}: {exc}"}
            continue
        if filed.case["number"] is None:
            yield {**report, "result": filed.result, "referral": filed.case["referral"],
                   "sms_queued": filed.sms_queued}
            continue
        yield {**report, "result": filed.result, "case": filed.case["number"],
               "label": filed.case["label"], "grid_code": filed.case["grid_code"],
               "sms_queued": filed.sms_queued}
