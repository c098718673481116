"""CSV cells that spreadsheets never run as formulas (CSV injection), shared by every export."""

from __future__ import annotations

# A cell starting with one of these is a formula (or becomes one after a tab/CR is eaten) in
# Excel, LibreOffice and Google Sheets; a leading apostrophe makes it plain text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: object) -> str:
    """The value as text, with an apostrophe in front when a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def plain_cell(text: str) -> str:
    """What `safe_cell` guarded, as it was: an import reads back what an export wrote."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
