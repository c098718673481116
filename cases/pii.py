"""Personal data inside residents' free text, masked before the text leaves us: mobile and
landline numbers (`138****5678`), resident ID card numbers (`410611********1234`) and licence
plates (`豫F***23`). The case keeps the original for authorised staff; the platform document and
Open311 get the masked text when `[forwarding] mask_personal_data` is on (the default)."""

from __future__ import annotations

import re

# 6-digit region, 8-digit birth date (masked), 3 digits and a check character.
_ID_CARD = re.compile(r"(?<![0-9])([1-9][0-9]{5})((?:19|20)[0-9]{2}[01][0-9][0-3][0-9])"
                      r"([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(1[3-9][0-9])[- ]?([0-9]{4})[- ]?([0-9]{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(0[1-9][0-9]{1,2})[- ]?([0-9]{3,4})([0-9]{4})(?![0-9])")
_PLATE = re.compile(r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])\s?"
                    r"([A-HJ-NP-Z])[·•.\s]?([A-HJ-NP-Z0-9]{3,4})([A-HJ-NP-Z0-9]{2})(?![A-Za-z0-9])")


def mask_personal_data(text: str) -> str:
    """The text with ID numbers, phone numbers and plates masked, everything else as typed."""
    text = _ID_CARD.sub(lambda m: f"{m[1]}{'*' * 8}{m[3]}", text)
    text = _MOBILE.sub(lambda m: f"{m[1]}****{m[3]}", text)
    text = _LANDLINE.sub(lambda m: f"{m[1]}-{'*' * len(m[2])}{m[3]}", text)
    return _PLATE.sub(lambda m: f"{m[1]}{m[2]}{'*' * len(m[3])}{m[4]}", text)
