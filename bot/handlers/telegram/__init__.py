"""Telegram: Updates in (polling or the webhook route), Bot API messages out."""
