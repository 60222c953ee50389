"""The responder SMS command grammar: one text message in, one `Command` out.

Pure (no I/O, no clock, no database) and total: `parse_command` never raises, because whatever a
responder types on a small keyboard at 2am must get an answer, not a 500. Deciding what a
command does (which case, whether the sender may act on it) is the handler's job.

Parsing works on an NFKC-normalised copy of the body without invisible format characters
(zero-width spaces, BOMs, bidi marks), so full-width "ＡＣＫ　７" or "ACK ٧" work. The free text of
REPLY and NEW is cut from the message as sent (only its ends trimmed), so the reporter reads
exactly what the responder typed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TypeAlias

from app.telephony.carrier import OPT_OUT_KEYWORDS, carrier_word

MAX_CASE_DIGITS = 9
"""Longer numbers are no case number; the limit also keeps int() away from huge digit runs."""


@dataclass(frozen=True, slots=True)
class Ack:
    """Take case `case`; None means "my one pending page" (the handler resolves it)."""

    case: int | None


@dataclass(frozen=True, slots=True)
class Recuse:
    """Exclude the sender from `case` (a conflict of interest noticed late)."""

    case: int


@dataclass(frozen=True, slots=True)
class Reply:
    """Relay `text` to the reporter of `case` from the hotline number."""

    case: int
    text: str


@dataclass(frozen=True, slots=True)
class Resolve:
    """Close `case`."""

    case: int


@dataclass(frozen=True, slots=True)
class Status:
    """List the sender's open cases."""


@dataclass(frozen=True, slots=True)
class Help:
    """List the commands; also the answer to anything the grammar does not know."""


@dataclass(frozen=True, slots=True)
class New:
    """Open a case as a reporter would, for a responder who witnessed something."""

    text: str


@dataclass(frozen=True, slots=True)
class CarrierKeyword:
    """A carrier opt-out/opt-in word, upper case. Twilio acts on it; the hotline answers nothing."""

    word: str

    @property
    def opts_out(self) -> bool:
        """True for STOP and its synonyms: the sender can no longer be texted."""
        return self.word in OPT_OUT_KEYWORDS


@dataclass(frozen=True, slots=True)
class Invalid:
    """A known command with a missing or bad argument; `reason` is fit to text back."""

    command: str
    reason: str


Command: TypeAlias = Ack | Recuse | Reply | Resolve | Status | Help | New | CarrierKeyword | Invalid

_KEYWORDS: dict[str, str] = {
    "ACK": "ACK",
    "A": "ACK",
    "ACKNOWLEDGE": "ACK",
    "ACKNOWLEDGED": "ACK",
    "RECUSE": "RECUSE",
    "REPLY": "REPLY",
    "RESOLVE": "RESOLVE",
    "STATUS": "STATUS",
    "HELP": "HELP",
    "NEW": "NEW",
}

_EXAMPLES: dict[str, str] = {
    "ACK": "ACK 12",
    "RECUSE": "RECUSE 12",
    "RESOLVE": "RESOLVE 12",
    "REPLY": "REPLY 12 we are on our way",
}

_NEW_SEPARATORS = ":.,-–—"
"""Punctuation between NEW and its text that is not part of the report."""

HELP_TEXT = (
    "Hotline commands:\n"
    "ACK n - take case n\n"
    "ACK - take your latest page\n"
    "RECUSE n - step back from case n\n"
    "REPLY n text - text the reporter\n"
    "RESOLVE n - close case n\n"
    "STATUS - your open cases\n"
    "NEW text - open a case\n"
    "HELP - this list"
)
"""The answer to HELP and to anything unknown: one SMS segment of plain GSM-7 text."""


def parse_command(body: str) -> Command:
    """Parse one responder SMS body. Total: every string gives a Command, none raises."""
    norm, origin = _normalize(body)
    start, end = _strip_span(norm)
    if start == end:
        return Help()
    carrier = carrier_word(norm[start:end])
    if carrier is not None:
        return CarrierKeyword(carrier)

    word_end = start
    while word_end < end and norm[word_end].isalpha():
        word_end += 1
    word = norm[start:word_end]
    command = _KEYWORDS.get(word.upper()) if word.isascii() else None
    # "Avery" is not A, "ACKBAR" is not ACK: a keyword must end where the letters end.
    if command is None or (word_end < end and not _ends_keyword(norm[word_end])):
        return Help()

    pos = _skip_space(norm, word_end, end)
    if pos < end and norm[pos] == ":":  # "ACK: 7", "NEW: someone ..."
        pos = _skip_space(norm, pos + 1, end)

    if command == "HELP":
        return Help()
    if command == "STATUS":
        return Status()
    if command == "NEW":
        while pos < end and (norm[pos] in _NEW_SEPARATORS or norm[pos].isspace()):
            pos += 1  # "NEW - fight outside", "NEW. fight outside"
        text = _text_from(body, origin, pos, end)
        if not _has_content(text):
            return Invalid("NEW", "NEW needs a description, e.g. NEW harassment at the bar")
        return New(text)
    if command == "ACK" and _is_bare(norm[pos:end]):
        return Ack(None)

    number = _case_number(norm, pos, end)
    if isinstance(number, str):
        if command == "REPLY":
            return Invalid("REPLY", _reply_reason())
        return Invalid(command, number.format(cmd=command, example=_EXAMPLES[command]))
    case, after = number
    if command == "ACK":
        return Ack(case)
    if command == "RECUSE":
        return Recuse(case)
    if command == "RESOLVE":
        return Resolve(case)
    # REPLY
    text = _text_from(body, origin, _skip_space(norm, after, end), end)
    if not _has_content(text):
        return Invalid("REPLY", _reply_reason())
    return Reply(case, text)


def _reply_reason() -> str:
    """One sentence for every REPLY mistake: the fix is always the same shape."""
    return f"REPLY needs a case number and a message, e.g. {_EXAMPLES['REPLY']}"


def _normalize(body: str) -> tuple[str, list[int]]:
    """NFKC, character by character, dropping format characters; remembers each char's origin.

    Per-character NFKC equals whole-string NFKC wherever a command head can match (letters,
    digits, spaces, '#', punctuation); the origin map lets free text be cut from `body` itself.
    """
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(body):
        if char.isascii():  # every ASCII character is its own NFKC form
            chars.append(char)
            origin.append(index)
            continue
        if unicodedata.category(char) == "Cf":  # zero-width spaces, BOM, bidi marks
            continue
        for part in unicodedata.normalize("NFKC", char):
            chars.append(part)
            origin.append(index)
    return "".join(chars), origin


def _strip_span(text: str) -> tuple[int, int]:
    """Bounds of `text` without surrounding whitespace (linear, no copies)."""
    start, end = 0, len(text)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _skip_space(text: str, pos: int, end: int) -> int:
    """First index at or after `pos` that is not whitespace."""
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


def _is_punct_or_symbol(char: str) -> bool:
    """Punctuation or symbol (incl. emoji): decoration around a keyword or number, not content."""
    return unicodedata.category(char)[0] in "PS"


def _ends_keyword(char: str) -> bool:
    """May `char` follow a keyword? Whitespace, '#', a digit, punctuation or a symbol."""
    return char.isspace() or char.isdecimal() or _is_punct_or_symbol(char)


def _is_bare(rest: str) -> bool:
    """True for what may follow a bare ACK: nothing, or only punctuation/symbols ("ack.", "ACK 👍").

    A leading '#' promises a number, so "ACK #" is a malformed ACK n, not a bare ACK.
    """
    if rest.startswith("#"):
        return False
    return all(char.isspace() or _is_punct_or_symbol(char) for char in rest)


def _case_number(text: str, pos: int, end: int) -> tuple[int, int] | str:
    """Read `#? n` at `pos`: (case, index after it) or an error template ({cmd}, {example}).

    The number may carry trailing punctuation ("7.", "7!", "7:") but must then end at whitespace
    or the end: "7abc" and "7.5" are no case number rather than case 7.
    """
    if pos < end and text[pos] == "#":
        pos = _skip_space(text, pos + 1, end)
    digits_end = pos
    while digits_end < end and text[digits_end].isdecimal():
        digits_end += 1
    if digits_end == pos:
        return "{cmd} needs a case number, e.g. {example}"
    after = digits_end
    while after < end and not text[after].isspace():
        if not _is_punct_or_symbol(text[after]):
            return "{cmd} needs a case number, e.g. {example}"
        after += 1
    digits = text[pos:digits_end]
    if len(digits) > MAX_CASE_DIGITS:
        return "That case number is too long, e.g. {example}"
    case = int(digits)  # int() reads any Unicode decimal digits
    if case == 0:
        return "Case numbers start at 1, e.g. {example}"
    return case, after


def _text_from(body: str, origin: list[int], pos: int, end: int) -> str:
    """The original text of `body` from normalised index `pos`, ends trimmed."""
    if pos >= end:
        return ""
    return _trim(body[origin[pos] :])


def _trim(text: str) -> str:
    """Strip whitespace and invisible format characters (zero-width spaces etc.) at both ends."""
    start, end = 0, len(text)
    while start < end and _is_blank(text[start]):
        start += 1
    while end > start and _is_blank(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_blank(char: str) -> bool:
    """Whitespace or an invisible format character."""
    return char.isspace() or unicodedata.category(char) == "Cf"


def _has_content(text: str) -> bool:
    """Does `text` say anything: a letter, digit or symbol, not only punctuation?"""
    return any(unicodedata.category(char)[0] in "LNS" for char in text)
