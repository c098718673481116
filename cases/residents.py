"""One resident across channels: channel identities (`Reporter` rows: a phone, a Telegram chat,
a WeChat openid, a hotline caller) linked to one `Resident`, and only with proof of owning both
ends: a one-time code sent to the phone and typed back on the other channel, or an operator who
has the caller on the line from that very number.

Linked identities share their cases ("我的案件" lists them all), their language and their
consent; an opt-out stays with its channel (an SMS STOP is an SMS STOP). Notices go to the
channel the resident chose, else to the one they used last."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cases.outbox import RESIDENT_SINKS
from storage.models import InboundMessage, LinkCode, Reporter, Resident, utcnow

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
PHONE_CHANNELS = ("sms", "generic_sms")  # whose channel_user_id is the E.164 number


class LinkError(ValueError):
    """The link cannot be made (no such identity, a wrong or stale code); says why."""


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def identities(session: Session, reporter: Reporter) -> list[Reporter]:
    """Every channel identity of the reporter's resident (the reporter alone when unlinked)."""
    if reporter.resident_id is None:
        return [reporter]
    return list(session.scalars(select(Reporter).where(Reporter.resident_id == reporter.resident_id)
                                .order_by(Reporter.id)))


def reporter_ids(session: Session, reporter: Reporter) -> list[int]:
    return [r.id for r in identities(session, reporter)]


def phone_identity(session: Session, phone: str) -> Reporter | None:
    """The SMS identity of a phone number (E.164), if that number ever texted us."""
    return session.scalar(select(Reporter).where(Reporter.channel.in_(PHONE_CHANNELS),
                                                 Reporter.channel_user_id == phone)
                          .order_by(Reporter.id))


def start_link(session: Session, reporter: Reporter, phone: str) -> tuple[Reporter, str]:
    """A one-time code for linking ``reporter`` to the SMS identity of ``phone``; the caller
    sends it by SMS to that phone (and never to the asking channel). Earlier codes end."""
    target = phone_identity(session, phone)
    if target is None:
        raise LinkError(f"no SMS reporter with {phone}")
    if target.id == reporter.id or (target.resident_id and target.resident_id == reporter.resident_id):
        raise LinkError("already linked")
    session.execute(update(LinkCode).where(LinkCode.reporter_id == reporter.id,
                                           LinkCode.used_at.is_(None))
                    .values(used_at=utcnow()))
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(LinkCode(reporter_id=reporter.id, target_id=target.id, code_hash=_hash(code),
                         expires_at=utcnow() + CODE_TTL))
    session.flush()
    return target, code


def confirm_link(session: Session, reporter: Reporter, code: str) -> Resident:
    """Link ``reporter`` with the phone its pending code went to, if ``code`` is that code."""
    pending = session.scalar(select(LinkCode).where(LinkCode.reporter_id == reporter.id,
                                                    LinkCode.used_at.is_(None))
                             .order_by(LinkCode.id.desc()))
    if pending is None or pending.expires_at < utcnow() or pending.attempts >= MAX_ATTEMPTS:
        raise LinkError("no code is pending: ask for a new one")
    pending.attempts += 1
    if not hmac.compare_digest(pending.code_hash, _hash(code.strip())):
        raise LinkError("wrong code")
    pending.used_at = utcnow()
    return link(session, reporter, session.get(Reporter, pending.target_id))


def operator_link(session: Session, caller: Reporter, other: Reporter) -> Resident:
    """An operator links a caller on the line to an existing resident: the caller's number,
    shown by the call, must be the other identity's number (the proof of that end)."""
    if not caller.phone or caller.phone != (other.phone or (
            other.channel_user_id if other.channel in PHONE_CHANNELS else None)):
        raise LinkError("the caller's number is not that resident's number: send a code instead")
    return link(session, caller, other)


def link(session: Session, a: Reporter, b: Reporter) -> Resident:
    """Put both identities (and whoever each is already linked with) under one resident; the
    language and consent of the identity that proved the link (``a``) become theirs."""
    resident = (session.get(Resident, a.resident_id) if a.resident_id else None) or \
        (session.get(Resident, b.resident_id) if b.resident_id else None)
    if resident is None:
        resident = Resident()
        session.add(resident)
        session.flush()
    members = {r.id: r for who in (a, b) for r in identities(session, who)}
    resident.language, resident.consent_contact = a.language, a.consent_contact
    for member in members.values():
        member.resident_id = resident.id
        member.language, member.consent_contact = a.language, a.consent_contact
    session.flush()
    return resident


def unlink(session: Session, reporter: Reporter) -> None:
    """Take the identity out of its resident; it keeps its own cases, the others theirs."""
    resident_id = reporter.resident_id
    reporter.resident_id = None
    session.flush()
    if resident_id is not None:
        rest = session.scalars(select(Reporter).where(Reporter.resident_id == resident_id)).all()
        if len(rest) == 1:  # one identity alone is not linked to anything
            rest[0].resident_id = None
            session.flush()


def share(session: Session, reporter: Reporter) -> None:
    """Give every linked identity this one's language and consent (after a change to either)."""
    for other in identities(session, reporter):
        other.language, other.consent_contact = reporter.language, reporter.consent_contact


def choose_channel(session: Session, reporter: Reporter, channel: str | None) -> bool:
    """The resident's choice of channel for notices (None: the one used last); False when it
    is not one of their linked channels."""
    people = identities(session, reporter)
    if reporter.resident_id is None or (channel and channel not in {p.channel for p in people}):
        return False
    session.get(Resident, reporter.resident_id).notify_channel = channel or None
    return True


def notice_identity(session: Session, reporter: Reporter) -> Reporter:
    """Where a notice to this reporter goes: the resident's chosen channel, else the reachable
    identity that wrote to us last (an opted-out channel is skipped, not the resident)."""
    people = identities(session, reporter)
    if len(people) == 1:
        return reporter
    resident = session.get(Resident, reporter.resident_id)
    reachable = [p for p in people if not p.unreachable
                 and (p.channel in RESIDENT_SINKS or p.phone)]
    chosen = [p for p in reachable if resident.notify_channel and p.channel == resident.notify_channel]
    if chosen:
        return chosen[0]
    last = dict(session.execute(
        select(InboundMessage.reporter_id, func.max(InboundMessage.id))
        .where(InboundMessage.reporter_id.in_([p.id for p in reachable]))
        .group_by(InboundMessage.reporter_id)).all())
    return max(reachable, key=lambda p: last.get(p.id, 0), default=reporter)
