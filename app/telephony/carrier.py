"""Carrier keywords: the single words (STOP, UNSUBSCRIBE, START...) that belong to Twilio
and the carriers, not to the hotline. Twilio acts on them itself; the hotline never reads
them as commands or answers them, outage or not. The one list, for every path that asks.
"""

from __future__ import annotations

import unicodedata

OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    # Twilio's defaults, including REVOKE and OPTOUT added for the 2025 FCC consent rules
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
"""Single words after which Twilio refuses to deliver to the sender (error 21610)."""

OPT_IN_KEYWORDS: frozenset[str] = frozenset({"START", "YES", "UNSTOP"})
"""Single words that undo an opt-out."""

CARRIER_KEYWORDS: frozenset[str] = OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS
"""Single-word messages that belong to the carrier/Twilio and are never commands."""


def carrier_word(core: str) -> str | None:
    """The carrier keyword `core` consists of ("Stop.", " stop! "), else None."""
    end = len(core)
    while end > 0 and (core[end - 1].isspace() or unicodedata.category(core[end - 1])[0] == "P"):
        end -= 1
    word = core[:end]
    if word.isascii() and word.upper() in CARRIER_KEYWORDS:
        return word.upper()
    return None


def carrier_keyword_in(body: str) -> str | None:
    """The carrier keyword a whole message body is (after the same NFKC folding, without
    invisible format characters, that the command parser applies), else None."""
    folded = "".join(
        part
        for char in body
        if unicodedata.category(char) != "Cf"
        for part in unicodedata.normalize("NFKC", char)
    )
    return carrier_word(folded.strip())
