"""Residents as one channel knows them: the one get-or-create every path uses (conversation,
SMS opt-out, one-shot reports and hotline calls)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import guess_language, normalize_language
from storage.models import Reporter


def adopt(session: Session, found: Reporter | None, *, channel: str, sender: str,
          phone: str | None = None, language: str | None = None, text: str = "",
          display_name: str | None = None) -> Reporter:
    """``found`` (the caller's lookup of ``channel``/``sender``), or a new reporter created now.

    A new reporter's language is the channel's hint, else guessed from their first words (not
    from a /command); a phone learned later is kept when the reporter had none."""
    if found is None:
        guessed = None if text.startswith("/") else guess_language(text)
        found = Reporter(channel=channel, channel_user_id=sender, phone=phone,
                         language=normalize_language(language or guessed),
                         display_name=display_name)
        session.add(found)
        session.flush()
    elif phone and not found.phone:
        found.phone = phone
    return found


def get_or_create(session: Session, *, channel: str, sender: str, phone: str | None = None,
                  language: str | None = None, text: str = "",
                  display_name: str | None = None) -> Reporter:
    """The reporter for this channel's sender, created at their first report."""
    found = session.scalar(select(Reporter).where(Reporter.channel == channel,
                                                  Reporter.channel_user_id == sender))
    return adopt(session, found, channel=channel, sender=sender, phone=phone, language=language,
                 text=text, display_name=display_name)
