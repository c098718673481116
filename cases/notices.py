"""Short messages to the residents behind a case (its reporter and every linked follower),
written as outbox rows on the channel each of them used, in their language."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import t
from bot.types import Choice, Reply
from cases import residents
from cases.outbox import RESIDENT_SINKS, enqueue
from storage.models import Case, CaseFollower, Conversation, Outbox, Reporter
from storage.states import DialogState

RATING_CHOICES = [Choice(str(n), "★" * n) for n in range(1, 6)]
# How long a notice with the platform's note may grow: two SMS segments (67 UCS-2 characters
# each) on SMS, a few lines elsewhere; the note is shortened to what is left.
ROOM = {"sms": 134, "generic_sms": 134}
DEFAULT_ROOM = 600


def resident_route(reporter: Reporter) -> tuple[str, str] | None:
    """(sink, target) for a reporter, or None when we may not or cannot write to them."""
    if reporter.unreachable or not reporter.consent_contact:
        return None
    if reporter.channel in RESIDENT_SINKS:
        return reporter.channel, reporter.channel_user_id
    if reporter.phone:  # hotline / web callers who gave a phone and consented: SMS
        return "sms", reporter.phone
    return None


def audience(session: Session, case: Case) -> list[Reporter]:
    """The case's reporter first, then the followers, each once."""
    people: dict[int, Reporter] = {}
    if case.reporter is not None:
        people[case.reporter.id] = case.reporter
    followers = session.scalars(
        select(Reporter).join(CaseFollower, CaseFollower.reporter_id == Reporter.id)
        .where(CaseFollower.case_id == case.id).order_by(CaseFollower.id)
    ).all()
    for reporter in followers:
        people.setdefault(reporter.id, reporter)
    # A linked resident hears on the channel they chose, else the one they used last; once.
    routed = [residents.notice_identity(session, reporter) for reporter in people.values()]
    return list({r.id: r for r in routed}.values())


def send_to(session: Session, reporter: Reporter, text: str, *, key: str,
            choices: list[Choice] = (), case: Case | None = None,
            template: dict | None = None) -> Outbox | None:
    """One outbox row to a resident on their channel; None when we may not or cannot write
    (no push channel, no consent, opted out). Every resident message goes through here.
    ``template`` ({"key", "values"}: the catalog entry the text came from) lets a provider that
    sends only approved templates (mainland SMS) send it."""
    route = resident_route(reporter)
    if route is None:
        return None
    sink, target = route
    payload = {
        "text": text,
        "choices": [{"key": c.key, "label": c.label} for c in choices],
        "language": reporter.language,
        "reporter_id": reporter.id,
    }
    if case is not None:
        payload["case"] = case.number
    if template is not None:
        payload["template"] = template
    return enqueue(session, sink=sink, target=target, payload=payload, key=key,
                   case_id=case.id if case is not None else None)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split()).rstrip("。.")
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "…"


def fitted(key: str, reporter: Reporter, *, note: str | None = None,
           photo_url: str | None = None, **values) -> str:
    """The catalog's ``key`` for this resident, with the platform's note (shortened to fit their
    channel) and the after-photo link where the message has room for them."""
    lang = reporter.language
    photo = t("photo_words", lang, url=photo_url) if photo_url else ""
    words = ""
    if note and note.strip():
        route = resident_route(reporter)
        room = ROOM.get(route[0] if route else "", DEFAULT_ROOM)
        left = room - len(t(key, lang, note="", photo=photo, **values)) - len(
            t("note_words", lang, note=""))
        if left >= 6:  # fewer characters than this say nothing
            words = t("note_words", lang, note=shorten(note, left))
    return t(key, lang, note=words, photo=photo, **values)


def message(session: Session, case: Case, reporter: Reporter, *, key: str, dedupe: str,
            choices: list[Choice] = (), note: str | None = None, photo_url: str | None = None,
            **values) -> Outbox | None:
    text = fitted(key, reporter, note=note, photo_url=photo_url, number=case.number, **values)
    template = {"key": key, "values": {name: str(value) for name, value in
                                       {"number": case.number, **values}.items()}}
    return send_to(session, reporter, text, key=f"{dedupe}:{reporter.id}", choices=choices,
                   case=case, template=template)


def late_replies(session: Session, reporter: Reporter, inbound_id: int,
                 replies: list[Reply]) -> Outbox | None:
    """The replies to a message processed by a retry: its webhook answer died with the crash, so
    they go out as one message (in order, all or nothing), keyed by the inbound message."""
    if not replies:
        return None
    text = "\n\n".join(r.text for r in replies)
    choices = [c for r in replies for c in r.choices]  # in practice only the last one asks
    return send_to(session, reporter, text, key=f"replies:{inbound_id}", choices=choices)


def notify_all(session: Session, case: Case, *, key: str, dedupe: str,
               choices: list[Choice] = (), exclude: int | None = None, **values) -> list[Outbox]:
    """Every resident behind the case (but ``exclude``, a reporter id, who was told already)."""
    rows = [message(session, case, r, key=key, dedupe=dedupe, choices=choices, **values)
            for r in audience(session, case) if r.id != exclude]
    return [row for row in rows if row is not None]


def ask_for_rating(session: Session, case: Case, dedupe: str, *, note: str | None = None,
                   photo_url: str | None = None) -> list[Outbox]:
    """After closure: the notice (with the platform's note and after-photo) asking for a rating
    or "not fixed", and idle conversations wait for the answer."""
    rows = notify_all(session, case, key="rate_request", dedupe=dedupe, choices=RATING_CHOICES,
                      note=note, photo_url=photo_url)
    for reporter in audience(session, case):
        if resident_route(reporter) is None:
            continue
        conv = session.scalar(select(Conversation).where(Conversation.reporter_id == reporter.id))
        if conv is None:
            session.add(Conversation(reporter_id=reporter.id, state=DialogState.RATING,
                                     slots={"case": case.number}))
        elif conv.state in (DialogState.IDLE, DialogState.RATING):
            conv.state, conv.slots = DialogState.RATING, {"case": case.number}
    return rows
