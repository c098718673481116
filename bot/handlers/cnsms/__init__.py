"""Mainland SMS: Aliyun (`aliyun.py`) and Tencent Cloud (`tencent.py`) send residents' messages
as approved templates (`templates.py`), take residents' replies (uplink) into the conversation
and delivery receipts onto the outbox (`routes.py`, `receipts.py`). The SMS rules they share with
Twilio and the generic gateway (opt-out words, phone numbers) are `bot.handlers.sms`'s."""
