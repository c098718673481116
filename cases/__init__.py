"""The case life cycle, below every channel and the HTTP gateway: reporters, filing, categories
and relabelling, status transitions, duplicates, overdue cases and residents' notices.

It imports no Flask and no HTTP client; the channels (`bot/`) and the gateway call into it.
"""
