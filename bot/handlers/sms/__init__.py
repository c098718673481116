"""SMS: Twilio and a generic gateway in and out; the rules both share are `rules.py`."""
