"""The conversation engine: one reporting flow for every channel.

describe → classify (pick from the top 3 when unsure) → place (from the text, a pin, a photo's
EXIF, or asked for) → optional photo → confirm → case filed with its number.

The flow is a state table (`Engine.states`, in the manner of python-telegram-bot's
conversationbot example): for each `DialogState`, the handler of a text and the handler of a
photo or pin sent without words. Commands are the same in every state.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.commands import Command, normalize_case_number, parse_command
from bot.i18n import guess_language, normalize_language, status_name, t
from bot.inbox import FILED_CHANNELS, Inbox, Refusal, inbound_from_row
from bot.intents import asks_progress, is_greeting, mentions_own_report, says_not_fixed
from bot.media import keep_photo
from bot.metrics import CONFIDENCE, DECISIONS, INBOUND
from bot.photos import BadPhoto
from bot.types import Choice, Inbound, Outcome, Reply
from cases import reporters, residents
from cases.filing import CITY_TZ, Intake
from cases.notices import shorten
from cases.outbox import enqueue
from cases.relabel import relabel
from cases.status import apply_status, reopen_window_open
from categories import NONE_LABEL
from geo.types import GeoResult, geo_result_from_json, geo_result_to_slots
from nlp import extract_phones
from nlp.types import Classification, classification_from_json
from settings.typed import BotSettings
from storage import turns
from storage.conversations import ConversationState
from storage.db import transaction
from storage.media import LocalStore, MediaStore
from storage.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseFollower,
    InboundMessage,
    Reporter,
    utcnow,
)
from storage.states import ANSWERED, CaseStatus, DialogState, InboundStatus

log = logging.getLogger(__name__)
MY_CASES_SHOWN = 3  # three lines of the longest category and status fit two SMS segments
MY_CASES_SCANNED = 20  # a status question in words looks among the resident's latest cases

YES = {"1", "是", "对", "确认", "提交", "y", "yes", "ok", "好", "好的", "可以"}
NO = {"0", "否", "不", "取消", "n", "no"}
# States with a question pending: a text is read for what it is before it is taken as the answer.
PENDING = frozenset({DialogState.CHOOSE, DialogState.AWAIT_PLACE, DialogState.CONFIRM_PLACE,
                     DialogState.CONFIRM, DialogState.DESCRIBED})
PLACE_STATES = frozenset({DialogState.AWAIT_PLACE, DialogState.CONFIRM_PLACE})
RatingListener = Callable[[Session, Case], None]
ReopenListener = Callable[[Session, Case, CaseEvent], None]
# (session, reporter, inbound id, replies) for a message processed by a retry
RetryListener = Callable[[Session, Reporter, int, list[Reply]], None]
RetryHook = Callable[[int, Inbound], Outcome | None]

class Turn:
    """One inbound message being handled: the reporter, their conversation and the replies."""

    def __init__(self, session: Session, reporter: Reporter, conv: ConversationState) -> None:
        self.session = session
        self.reporter = reporter
        self.conv = conv
        self.replies: list[Reply] = []
        self.said: list[str] = []  # the catalog key of each reply, so the flow never reads replies
        self.case_number: str | None = None

    @property
    def lang(self) -> str:
        return self.reporter.language

    @property
    def slots(self) -> dict:
        return self.conv.slots

    def say(self, key: str, *, choices: list[Choice] | None = None, location: bool = False,
            contact: bool = False, **values) -> None:
        self.replies.append(Reply(t(key, self.lang, **values), choices or [], location, self.lang,
                                  key, {name: str(value) for name, value in values.items()},
                                  request_contact=contact))
        self.said.append(key)

    def say_text(self, text: str, key: str) -> None:
        """A reply whose words come from the data (an emergency's advice, a referral)."""
        self.replies.append(Reply(text, language=self.lang))
        self.said.append(key)

    def last_said(self, key: str) -> bool:
        return bool(self.said) and self.said[-1] == key

    def set_state(self, state: DialogState, **slots) -> None:
        self.conv.state = state
        self.conv.slots = {**self.conv.slots, **slots}

    def reset(self) -> None:
        self.conv.state = DialogState.IDLE
        self.conv.slots = {}


TextHandler = Callable[[Turn, str], None]
AttachmentHandler = Callable[[Turn], None]


class Engine:
    def __init__(
        self,
        factory: sessionmaker[Session],
        intake: Intake,
        settings: BotSettings,
        data_dir: Path,
        media: MediaStore | None = None,
    ) -> None:
        self.factory = factory
        self.intake = intake
        self.settings = settings
        self.media = media or LocalStore(data_dir)  # shared by every host unless local
        self.inbox = Inbox(factory, self.media)
        self.photo_dir = data_dir / "photos"
        self.rating_listeners: list[RatingListener] = []
        self.reopen_listeners: list[ReopenListener] = []  # a resident's "not fixed" to the platform
        # Run in the transaction of a retried message: its replies have not reached the resident
        # (the webhook answer was lost with the crash), so someone must send them.
        self.retry_listeners: list[RetryListener] = []
        # Channel → a retried message's own keywords (SMS opt-out) before the conversation sees it.
        self.retry_hooks: dict[str, RetryHook] = {}
        D = DialogState
        # The state table: (text handler, handler of a photo or pin without words) per state.
        self.states: dict[DialogState, tuple[TextHandler, AttachmentHandler]] = {
            D.IDLE: (self._on_description, self._attached_before_words),
            D.ASK_PROBLEM: (self._on_description, self._attached_before_words),
            D.DESCRIBED: (self._on_description, _nothing),
            D.CHOOSE: (self._on_choice, _nothing),
            D.AWAIT_PLACE: (self._on_place_text, self._attached_place),
            D.CONFIRM_PLACE: (self._on_place_confirmation, self._attached_place),
            D.CONFIRM: (self._on_confirmation, self._attached_to_confirm),
            D.RATING: (self._on_rating, _nothing),
        }

    # ---- entry points -------------------------------------------------------------------

    def handle(self, inbound: Inbound) -> Outcome:
        recorded = self.inbox.record(inbound)
        if recorded.previous_replies is not None:
            INBOUND.labels(inbound.channel, "replayed").inc()
            return Outcome(recorded.previous_replies, recorded.id, replayed=True)
        return self._process(recorded.id, inbound)

    def refuse(self, inbound: Inbound, refusal: Refusal) -> Outcome:
        """Keep a message that will not be processed, with the answer it gets; a replay of a
        message answered before gets that answer again."""
        recorded = self.inbox.record(inbound, refusal)
        if recorded.previous_replies is not None:
            INBOUND.labels(inbound.channel, "replayed").inc()
            return Outcome(recorded.previous_replies, recorded.id, replayed=True)
        INBOUND.labels(inbound.channel, "refused").inc()
        return Outcome(refusal.replies, recorded.id)

    def retry_pending(self, older_than: timedelta = timedelta(minutes=1)) -> list[Outcome]:
        """Process again messages left unprocessed by a crash or an error, until a message has
        failed `inbound_max_attempts` times (then it waits for `inbound retry ID|--all-failed`)."""
        return self._retry(InboundMessage.status.in_((InboundStatus.RECEIVED, InboundStatus.FAILED)),
                           InboundMessage.received_at < utcnow() - older_than,
                           InboundMessage.attempts < self.settings.inbound_max_attempts)

    def retry_failed(self, ids: list[int] | None = None) -> list[Outcome]:
        """Process again failed messages (these `ids`, or every one) with fresh attempts."""
        where = [InboundMessage.status == InboundStatus.FAILED]
        if ids is not None:
            where.append(InboundMessage.id.in_(ids))
        with transaction(self.factory) as session:
            session.execute(update(InboundMessage).where(*where).values(attempts=0))
        return self._retry(*where)

    def _retry(self, *where) -> list[Outcome]:
        with transaction(self.factory) as session:
            rows = session.scalars(
                select(InboundMessage).where(*where)
                .where(InboundMessage.channel.not_in(FILED_CHANNELS))  # not chat turns
                .order_by(InboundMessage.id)
            ).all()
            pending = [(row.id, inbound_from_row(row, self.media)) for row in rows]
        outcomes = []
        for row_id, inbound in pending:
            hook = self.retry_hooks.get(inbound.channel)
            outcome = hook(row_id, inbound) if hook else None
            outcomes.append(outcome or self._process(row_id, inbound, retried=True))
        return outcomes

    def _process(self, inbound_id: int, inbound: Inbound, retried: bool = False) -> Outcome:
        try:
            with transaction(self.factory) as session:
                row = turns.lock_inbound_and_sender(session, inbound_id, inbound.channel,
                                                    inbound.sender)
                if row.status in ANSWERED:
                    INBOUND.labels(inbound.channel, "replayed").inc()
                    return Outcome([Reply.from_json(r) for r in row.replies], inbound_id,
                                   replayed=True)
                turn = self._turn(session, inbound, row)
                rejected = self._dispatch(turn, inbound, inbound_id)
                status = InboundStatus.REJECTED if rejected else InboundStatus.PROCESSED
                turns.finish_inbound(session, turn.conv, inbound_id, turn.reporter.id, status,
                                     [r.to_json() for r in turn.replies])
                if retried:
                    for listener in self.retry_listeners:
                        listener(session, turn.reporter, inbound_id, turn.replies)
            INBOUND.labels(inbound.channel, str(status)).inc()  # once committed
            return Outcome(turn.replies, inbound_id, turn.case_number)
        except Exception as exc:
            INBOUND.labels(inbound.channel, "failed").inc()
            with transaction(self.factory) as session:
                row = session.get(InboundMessage, inbound_id)
                row.status, row.error = InboundStatus.FAILED, f"{type(exc).__name__}: {exc}"
                row.attempts = (row.attempts or 0) + 1
                attempts = row.attempts
            limit = self.settings.inbound_max_attempts
            if attempts == 1:
                log.exception("inbound %s failed (attempt 1 of %d)", inbound_id, limit)
            elif attempts < limit:
                log.warning("inbound %s failed again (attempt %d of %d): %s", inbound_id, attempts,
                            limit, row.error)
            else:
                log.warning("inbound %s failed %d times, left as failed (`gridintake inbound retry "
                            "%s`): %s", inbound_id, attempts, inbound_id, row.error)
            lang = normalize_language(inbound.language or guess_language(inbound.text or ""))
            return Outcome([Reply(t("error", lang))], inbound_id)

    # ---- reporter and conversation --------------------------------------------------------

    def _turn(self, session: Session, inbound: Inbound, row: Row) -> Turn:
        """The sender's reporter and conversation (`row` of the locking query), created at
        their first message."""
        reporter = reporters.adopt(
            session, row.Reporter, channel=inbound.channel, sender=inbound.sender,
            phone=inbound.phone, language=inbound.language, text=inbound.text or "",
            display_name=inbound.display_name)
        turn = Turn(session, reporter, ConversationState.from_row(reporter.id, row))
        idle = utcnow() - turn.conv.updated_at
        if turn.conv.state != DialogState.IDLE and idle > timedelta(minutes=self.settings.idle_minutes):
            turn.reset()
            turn.say("expired")
        return turn

    # ---- dispatch -------------------------------------------------------------------------

    def _dispatch(self, turn: Turn, inbound: Inbound, inbound_id: int) -> bool:
        """Handle one message; True when it was rejected as bad input."""
        text = (inbound.text or "").strip()
        if len(text) > self.settings.max_text_chars:
            turn.say("too_long", limit=self.settings.max_text_chars)
            return True
        if text and not text.isprintable() and not _mostly_readable(text):
            turn.say("not_text")
            return True
        command = parse_command(text) if inbound.photo is None else None
        if command is not None:
            self._command(turn, command)
            return False
        # A refused photo gets its polite reply; the words or pin sent with it still count.
        if inbound.photo is not None and not self._photo(turn, inbound, inbound_id) \
                and not text and inbound.location is None:
            return True
        if inbound.location is not None:
            self._pin(turn, *inbound.location)
        if not text:
            if inbound.photo is None and inbound.location is None:
                turn.say("empty")
                return True
            before = len(turn.replies)
            self.states[turn.conv.state][1](turn)
            if len(turn.replies) == before:  # kept with the report; the pending question again
                turn.say("photo_received" if inbound.photo is not None else "location_received")
                self._reprompt(turn)
            return False
        if not self._interruption(turn, text):
            self.states[turn.conv.state][0](turn, text)
        return False

    # ---- interruptions: what a text is before it is taken as the pending answer ------------

    def _interruption(self, turn: Turn, text: str) -> bool:
        """True when ``text`` was a greeting, a status question, an emergency, an out-of-scope
        question or a new problem, answered as such (the pending report is kept, except for a
        new problem, which replaces it)."""
        state = turn.conv.state
        pending = state in PENDING
        if says_not_fixed(text) and self._reopen(turn, text):
            return True
        if is_greeting(text):
            if pending:
                self._reprompt(turn)
            else:
                turn.set_state(DialogState.ASK_PROBLEM)
                turn.say("greeting", city=self.settings.city)
            return True
        if self._status_question(turn, text):
            if pending:
                self._reprompt(turn)
            return True
        if not pending:
            return False  # a description: `_on_description` answers emergencies and referrals
        if state == DialogState.CONFIRM_PLACE and text.lower() in YES:
            return False
        if state in PLACE_STATES and (text.lower() in NO or _not_words(text)):
            if text.lower() in NO:
                turn.reset()
                turn.say("cancelled")
            else:
                self._reprompt(turn)
            return True
        result = self.intake.classify(text)
        if result.urgent and _cue(result):
            turn.say_text(_urgent_words(result, turn.lang), "urgent")
            self._reprompt(turn)
            return True
        if result.label == NONE_LABEL and result.evidence.get("out_of_scope"):
            turn.say_text(_referral_words(result, turn.lang), "not_city_problem")
            self._reprompt(turn)
            return True
        if self._new_problem(turn, result):
            turn.reset()
            turn.say("new_report")
            self._on_description(turn, text)
            return True
        return False

    def _new_problem(self, turn: Turn, result: Classification) -> bool:
        """A different problem, named by an exact keyword and classified with confidence."""
        pending = (turn.slots.get("classification") or {}).get("label")
        words = result.evidence.get("keywords", {}).get(result.label, [])
        return (result.label not in (NONE_LABEL, pending)
                and result.confidence >= self.settings.confirm_below
                and any("~" not in w for w in words))

    def _reprompt(self, turn: Turn) -> None:
        """Ask the pending question again, as it was first asked."""
        state, slots = turn.conv.state, turn.slots
        if state == DialogState.CHOOSE and slots.get("candidates"):
            self._ask_category(turn, classification_from_json(slots["classification"]))
        elif state in (DialogState.AWAIT_PLACE, DialogState.DESCRIBED) and "classification" in slots:
            turn.say("ask_place", category=self._category_words(turn), location=True)
        elif state == DialogState.CONFIRM_PLACE and "candidate" in slots:
            turn.say("confirm_place", place=_place_words(geo_result_from_json(slots["candidate"])),
                     location=True, choices=[Choice("1", "✔")])
        elif state == DialogState.CONFIRM and "place" in slots:
            self._ask_confirmation(turn)
        elif state == DialogState.RATING and slots.get("case"):
            turn.say("rate_request", number=slots["case"], note="", photo="")
        else:
            turn.say("ask_problem")

    def _reopen(self, turn: Turn, text: str) -> bool:
        """"没修好" after a closure: the case being rated, else the latest closed one the resident
        reported or follows, is reopened with their words as the reason (within the window)."""
        number = turn.slots.get("case") if turn.conv.state == DialogState.RATING else None
        mine = or_(Case.reporter_id == turn.reporter.id, Case.id.in_(
            select(CaseFollower.case_id).where(CaseFollower.reporter_id == turn.reporter.id)))
        query = (select(Case).where(Case.number == number) if number else
                 select(Case).where(mine, Case.status == CaseStatus.CLOSED)
                 .order_by(Case.closed_at.desc()).limit(1))
        case = turn.session.scalar(query)
        if case is None or case.status != CaseStatus.CLOSED:
            return False
        days = self.settings.reopen_days
        if not reopen_window_open(case, days):
            turn.say("reopen_too_late", number=case.number, days=days)
            return True
        event = apply_status(turn.session, case, CaseStatus.REOPENED, note=text, actor="resident",
                             told=turn.reporter.id)
        for listener in self.reopen_listeners:
            listener(turn.session, case, event)
        if turn.conv.state == DialogState.RATING:
            turn.reset()
        turn.say("reopened", number=case.number, reason=shorten(text, 40))
        return True

    def _status_question(self, turn: Turn, text: str) -> bool:
        """A case number with a question, or "我报的路灯修好了吗？": answered from the resident's
        own cases (the one whose category the words name, else the latest)."""
        number = normalize_case_number(text)
        if number is not None and (asks_progress(text) or mentions_own_report(text)):
            self._status(turn, number)
            return True
        mine = mentions_own_report(text)
        if not (asks_progress(text) or mine):
            return False
        cases = turn.session.scalars(select(Case).where(Case.reporter_id == turn.reporter.id)
                                     .order_by(Case.id.desc()).limit(MY_CASES_SCANNED)).all()
        if not cases:
            if mine:
                turn.say("my_cases_none")
            return mine  # "什么时候修？" from someone without cases is a report
        named = self.intake.classify(text)
        case = next((c for c in cases if c.label == named.label), None) or next(
            (c for c in cases if named.major and c.major == named.major
             and c.kind == named.kind), cases[0])
        turn.say("status", **self._case_words(case, turn.lang))
        return True

    def _command(self, turn: Turn, command: Command) -> None:
        name, lang = command.name, turn.lang
        if name == "start":
            turn.reset()
            turn.say("welcome", city=self.settings.city)
        elif name == "help":
            turn.say("help")
        elif name == "report":
            turn.reset()
            turn.say("ask_problem")
        elif name == "cancel":
            if turn.conv.state == DialogState.IDLE and not turn.slots:
                turn.say("nothing_to_cancel")
            else:
                turn.reset()
                turn.say("cancelled")
        elif name == "lang":
            target = command.arg or ("en" if lang == "zh" else "zh")
            turn.reporter.language = normalize_language(target)
            residents.share(turn.session, turn.reporter)
            turn.say("language_set")
        elif name == "status":
            self._status(turn, command.arg)
        elif name == "mycases":
            self._my_cases(turn)
        elif name == "link":
            self._link(turn, command.arg)
        elif name == "unlink":
            residents.unlink(turn.session, turn.reporter)
            turn.say("unlinked")
        elif name == "notify":  # /notify sms|telegram|wechat; /notify alone: the channel used last
            chosen = residents.choose_channel(turn.session, turn.reporter, command.arg.lower() or None)
            turn.say("notify_set" if chosen else "notify_unknown")
        else:
            turn.say("unknown_command")

    def _link(self, turn: Turn, arg: str) -> None:
        """绑定 PHONE: a code by SMS to that phone; 绑定 CODE: the link, if the code is right."""
        code = arg.replace(" ", "")
        if code.isdigit() and len(code) == 6:
            try:
                residents.confirm_link(turn.session, turn.reporter, code)
            except residents.LinkError:
                turn.say("link_failed")
                return
            turn.say("linked")
            return
        phones = [p for p in extract_phones(arg) if "-" not in p]  # mobiles only
        if not phones:
            turn.say("link_usage", contact=True)
            return
        phone = "+86" + phones[0]
        try:
            target, code = residents.start_link(turn.session, turn.reporter, phone)
        except residents.LinkError:
            turn.say("link_no_phone")
            return
        # To the phone only, never to this chat: typing it back here proves both ends.
        enqueue(turn.session, sink=target.channel, target=phone,
                key=f"link:{turn.reporter.id}:{secrets.token_hex(8)}", payload={
                    "text": t("link_code_sms", target.language, code=code), "choices": [],
                    "language": target.language, "reporter_id": target.id})
        turn.say("link_code_sent")

    def _status(self, turn: Turn, arg: str) -> None:
        number = normalize_case_number(arg)
        if number is None:
            turn.say("status_usage")
            return
        case = turn.session.scalar(select(Case).where(Case.number == number))
        if case is None:
            turn.say("status_unknown", number=number)
            return
        turn.say("status", **self._case_words(case, turn.lang))

    def _case_words(self, case: Case, lang: str) -> dict[str, str]:
        category = self.intake.tree().get(case.label)
        progress = case.duplicate_of or case  # a merged duplicate moves with its original
        return {
            "number": case.number,
            "category": category.name(lang) if category else case.label,
            "status": status_name(progress.status, lang),
            "updated": f"{progress.updated_at.astimezone(CITY_TZ):%m-%d %H:%M}",
        }

    def _my_cases(self, turn: Turn) -> None:
        """The most recent cases and how many more: at most two SMS segments (tests count them)."""
        mine = Case.reporter_id.in_(residents.reporter_ids(turn.session, turn.reporter))
        cases = turn.session.scalars(
            select(Case).where(mine).order_by(Case.id.desc()).limit(MY_CASES_SHOWN)
        ).all()
        if not cases:
            turn.say("my_cases_none")
            return
        lines = []
        for case in cases:
            words = self._case_words(case, turn.lang)
            lines.append(f"{words['number']} {words['category']} {words['status']}")
        more = turn.session.scalar(select(func.count(Case.id)).where(mine)) - len(cases)
        turn.say("my_cases_more" if more else "my_cases", lines="\n".join(lines), more=more)

    # ---- attachments ----------------------------------------------------------------------

    def _photo(self, turn: Turn, inbound: Inbound, inbound_id: int) -> bool:
        try:
            stored = keep_photo(self.media, inbound.photo.data, self.photo_dir,
                                self.settings.max_photo_bytes)
        except BadPhoto:
            turn.say("bad_photo", mb=self.settings.max_photo_mb)
            return False
        attachment = Attachment(
            inbound_id=inbound_id, path=str(stored.shared_path), sha256=stored.sha256,
            mime=stored.mime, size=stored.size, width=stored.width, height=stored.height,
            exif_lat=stored.gps[0] if stored.gps else None,
            exif_lon=stored.gps[1] if stored.gps else None,
        )
        turn.session.add(attachment)
        turn.session.flush()
        turn.set_state(turn.conv.state, attachments=[*turn.slots.get("attachments", []), attachment.id])
        if stored.gps and "place" not in turn.slots:
            place = self.intake.geo.locate(*stored.gps)
            if place.cell is not None:
                place.provider = "exif"
                turn.set_state(turn.conv.state, place=geo_result_to_slots(place))
                turn.say("photo_exif_place", place=_place_words(place))
        return True

    def _pin(self, turn: Turn, lat: float, lon: float) -> None:
        place = self.intake.geo.locate(lat, lon)
        if place.cell is None:
            turn.say("outside_area", location=True)
            return
        turn.set_state(turn.conv.state, place=geo_result_to_slots(place))

    # A photo or pin without words moves the flow on as far as it can go (the state table's
    # second column).

    def _attached_place(self, turn: Turn) -> None:
        if "place" in turn.slots:
            self._ask_confirmation(turn)

    def _attached_to_confirm(self, turn: Turn) -> None:
        if not turn.last_said("outside_area"):
            turn.say("photo_added", choices=_yes_no(turn.lang))

    def _attached_before_words(self, turn: Turn) -> None:
        if "text" in turn.slots:
            return
        if "place" in turn.slots and not turn.replies:
            place = geo_result_from_json(turn.slots["place"])
            turn.say("got_location_ask_problem", place=_place_words(place))
        elif not turn.last_said("outside_area"):
            turn.say("ask_problem")
        turn.set_state(DialogState.ASK_PROBLEM)

    # ---- the reporting flow ---------------------------------------------------------------

    def _on_description(self, turn: Turn, text: str) -> None:
        result = self.intake.classify(text)
        CONFIDENCE.observe(result.confidence)
        if result.language and guess_language(text) == result.language:
            turn.reporter.language = result.language
        if result.urgent:
            turn.say_text(_urgent_words(result, turn.lang), "urgent")
        if result.label == NONE_LABEL:
            DECISIONS.labels("none").inc()
            if not result.urgent:
                turn.say_text(_referral_words(result, turn.lang), "not_city_problem")
            turn.reset()
            return
        turn.set_state(DialogState.DESCRIBED, text=text, classification=result.to_json())
        if result.confidence < self.settings.confirm_below:
            DECISIONS.labels("asked").inc()
            self._ask_category(turn, result)
            return
        DECISIONS.labels("filed").inc()
        self._find_place(turn, text, result)

    def _ask_category(self, turn: Turn, result: Classification) -> None:
        tree = self.intake.tree()
        options = [s.label for s in result.top if s.label in tree][:3]
        if not options:
            self._find_place(turn, turn.slots["text"], result)
            return
        choices = [Choice(str(i), tree.get(label).name(turn.lang))
                   for i, label in enumerate(options, start=1)]
        turn.set_state(DialogState.CHOOSE, candidates=options)
        lines = "\n".join(f"{c.key} {c.label}" for c in choices)
        turn.say("pick_category", options=lines,
                 choices=[*choices, Choice("0", "—" if turn.lang == "zh" else "none")])

    def _on_choice(self, turn: Turn, text: str) -> None:
        options = turn.slots.get("candidates", [])
        if text == "0":
            turn.reset()
            turn.say("ask_problem")
            return
        if not (text.isdigit() and 1 <= int(text) <= len(options)):
            if len(text) > 3:  # a new description rather than a pick
                turn.reset()
                self._on_description(turn, text)
            else:
                turn.say("pick_again", range=f"1-{len(options)}")
            return
        result = relabel(self.intake.tree(), classification_from_json(turn.slots["classification"]),
                         options[int(text) - 1])
        turn.set_state(DialogState.DESCRIBED, classification=result.to_json())
        self._find_place(turn, turn.slots["text"], result)

    def _category_words(self, turn: Turn) -> str:
        label = turn.slots["classification"]["label"]
        return self.intake.tree().get(label).name(turn.lang)

    def _find_place(self, turn: Turn, text: str, result: Classification) -> None:
        if "place" in turn.slots:
            self._ask_confirmation(turn)
            return
        place = self.intake.place_from_text(text, result)
        self._offer_place(turn, place, result.place_text)

    def _offer_place(self, turn: Turn, place: GeoResult | None, query: str | None) -> None:
        category = self._category_words(turn)
        if place is None:
            if query:
                turn.say("place_not_found", place=query, location=True)
            else:
                turn.say("ask_place", category=category, location=True)
            turn.set_state(DialogState.AWAIT_PLACE)
        elif place.cell is None:
            turn.say("outside_area", location=True)
            turn.set_state(DialogState.AWAIT_PLACE)
        elif place.confidence < self.settings.min_geo_confidence:
            turn.set_state(DialogState.CONFIRM_PLACE, candidate=geo_result_to_slots(place))
            turn.say("confirm_place", place=_place_words(place), location=True,
                     choices=[Choice("1", "✔")])
        else:
            turn.set_state(DialogState.CONFIRM, place=geo_result_to_slots(place))
            self._ask_confirmation(turn)

    def _on_place_text(self, turn: Turn, text: str) -> None:
        self._offer_place(turn, self.intake.geo.geocode(text), text)

    def _on_place_confirmation(self, turn: Turn, text: str) -> None:
        if text.lower() in YES:
            turn.set_state(DialogState.CONFIRM, place=turn.slots["candidate"])
            self._ask_confirmation(turn)
        else:
            self._on_place_text(turn, text)

    def _ask_confirmation(self, turn: Turn) -> None:
        place = geo_result_from_json(turn.slots["place"])
        turn.set_state(DialogState.CONFIRM)
        turn.say("confirm", category=self._category_words(turn), place=_place_words(place),
                 choices=_yes_no(turn.lang))

    def _on_confirmation(self, turn: Turn, text: str) -> None:
        answer = text.lower()
        if answer in YES:
            self._file(turn)
        elif answer in NO:
            turn.reset()
            turn.say("cancelled")
        else:  # perhaps a corrected place
            place = self.intake.geo.geocode(text)
            if place is not None and place.cell is not None:
                turn.set_state(DialogState.CONFIRM, place=geo_result_to_slots(place))
            self._ask_confirmation(turn)

    def _file(self, turn: Turn) -> None:
        slots = turn.slots
        place = geo_result_from_json(slots["place"]) if slots.get("place") else None
        attachments = [turn.session.get(Attachment, a) for a in slots.get("attachments", [])]
        case = self.intake.file_case(
            turn.session, text=slots["text"],
            classification=classification_from_json(slots["classification"]), place=place,
            channel=turn.reporter.channel, reporter=turn.reporter, language=turn.lang,
            attachments=[a for a in attachments if a is not None],
            contact_phone=turn.reporter.phone,
        )
        turn.reset()
        turn.case_number = case.number
        if case.duplicate_of is not None:
            turn.say("filed_duplicate", number=case.number, original=case.duplicate_of.number)
        else:
            turn.say("filed" if case.status != CaseStatus.NEEDS_LOCATION else "filed_needs_location",
                     number=case.number)

    def _on_rating(self, turn: Turn, text: str) -> None:
        case = turn.session.scalar(select(Case).where(Case.number == turn.slots.get("case")))
        score = text[:1]
        if case is None or not (score.isdigit() and 1 <= int(score) <= 5):
            turn.reset()
            self._on_description(turn, text)
            return
        case.rating = int(score)
        case.rating_comment = text[1:].strip(" ,，。.") or None
        case.events.append(CaseEvent(status="rated", actor="resident",
                                     data={"rating": case.rating, "comment": case.rating_comment}))
        turn.session.flush()
        for listener in self.rating_listeners:
            listener(turn.session, case)
        turn.reset()
        turn.say("rated")


def _nothing(turn: Turn) -> None:
    """A photo or pin alone changes nothing more in this state (it was stored and kept)."""


def _yes_no(lang: str) -> list[Choice]:
    return [Choice("1", "提交" if lang == "zh" else "Submit"),
            Choice("0", "取消" if lang == "zh" else "Cancel")]


def _place_words(place: GeoResult) -> str:
    return place.address or place.matched or f"{place.lat:.5f},{place.lon:.5f}"


def _cue(result: Classification) -> bool:
    """An emergency cue in the words themselves (not only an urgent class)."""
    return bool((result.evidence.get("urgent") or {}).get("cue"))


def _urgent_words(result: Classification, lang: str) -> str:
    """The cue's own advice and number (``evidence["urgent"]``: call, reply in the text's
    language); in another language the catalog's words with the cue's number."""
    urgent = result.evidence.get("urgent") or {}
    if urgent.get("reply") and result.language == lang:
        return str(urgent["reply"])
    return t("urgent", lang, number=urgent.get("call") or "110/119/120")


def _referral_words(result: Classification, lang: str) -> str:
    """The topic's own referral (``evidence["out_of_scope"]["referral"]``, in the text's
    language), else the catalog's general one."""
    topic = result.evidence.get("out_of_scope") or {}
    if topic.get("referral") and result.language == lang:
        return str(topic["referral"])
    return t("not_city_problem", lang, referral=t("default_referral", lang))


def _not_words(text: str) -> bool:
    """Digits and punctuation only: no place can be named so ("0", "2", "?")."""
    return not any(ch.isalpha() for ch in text)


def _mostly_readable(text: str) -> bool:
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    return printable / len(text) > 0.9

