"""What a reporter's text says: emergency words, CONFLICT clauses and responders it names.

Pure (no I/O). Matching is accent- and case-insensitive on whole words, because reporters type
fast on phones ("jose nunez", "AVERY") and a missed conflict of interest is far worse than an
extra exclusion: an excluded lead only means the next person is paged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

EMERGENCY_WORDS: frozenset[str] = frozenset(
    {
        "emergency",
        "emergencies",
        "911",
        "danger",
        "dangerous",
        "dangerously",
        "endangered",
        "endangering",
        "weapon",
        "weapons",
        "armed",
        "knife",
        "knives",
        "gun",
        "guns",
        "firearm",
        "unsafe",
        "hurt",
        "hurts",
        "hurting",
        "injured",
        "injury",
        "injuries",
        "bleeding",
        "ambulance",
        "paramedic",
        "paramedics",
        "police",
        "threat",
        "threats",
        "threaten",
        "threatened",
        "threatening",
        "suicide",
        "suicidal",
        "overdose",
        "unconscious",
        "not safe",
    }
)
"""Folded whole words (or space-separated word sequences) that make a report an emergency.

Inflections are listed rather than stemmed so "hurt" never matches "hurtle". Negations ("nobody
is hurt") still count: paging everyone once too often is the cheaper mistake.
"""

_EMERGENCY_PHRASES: tuple[str, ...] = tuple(sorted(w for w in EMERGENCY_WORDS if " " in w))

_ABBREVIATIONS: frozenset[str] = frozenset(
    {"dr", "mr", "mrs", "ms", "mx", "prof", "st", "jr", "sr"}
)
"""A period after these (or after an initial) does not end a CONFLICT clause: "Dr. Okafor"."""

_NAME_PARTICLES: frozenset[str] = frozenset(
    {
        "al",
        "bin",
        "da",
        "de",
        "del",
        "della",
        "den",
        "der",
        "di",
        "du",
        "el",
        "la",
        "le",
        "van",
        "von",
        "y",
        "zu",
    }
)
"""Name words too common to identify anyone on their own inside a CONFLICT clause."""

_CONFLICT = re.compile(
    r"(?<![^\W\d_])conflicts?(?![^\W\d_])"
    r"\s*(?:[:\-–—]\s*)?(?:of\s+interest(?![^\W\d_])\s*)?(?:with(?![^\W\d_])\s*)?(?::\s*)?",
    re.IGNORECASE,
)
"""The CONFLICT keyword and the filler that may follow it ("CONFLICT: ", "conflict with ")."""

_CLAUSE_END = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029.,;!?]")
"""What ends a CONFLICT clause: a line break or sentence punctuation."""

_FANCY_PUNCTUATION = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-"})
"""Typographic apostrophes and hyphens phones insert, matched as their ASCII forms."""

_PLAIN_LETTERS = str.maketrans(
    {
        "ı": "i",
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ŧ": "t",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
    }
)
"""Folded letters without a decomposition, as people type them on an English keyboard."""


@dataclass(frozen=True, slots=True)
class Named:
    """A responder as a report may name them: `id` plus full name and aliases."""

    id: int
    names: tuple[str, ...]


def fold(text: str) -> str:
    """Accent- and case-insensitive form for comparisons: "José" -> "jose", "ＳＴＯＰ" -> "stop"."""
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    # casefold can produce new combining marks ("İ" -> "i̇"), so decompose again before stripping
    decomposed = unicodedata.normalize("NFKD", decomposed)
    return "".join(char for char in decomposed if not unicodedata.category(char).startswith("M"))


def is_emergency(text: str) -> bool:
    """Does `text` contain an emergency word (whole words, case- and accent-insensitive)?"""
    words = _word_list(text)
    if not EMERGENCY_WORDS.isdisjoint(words):
        return True
    joined = f" {' '.join(words)} "
    return any(f" {phrase} " in joined for phrase in _EMERGENCY_PHRASES)


def conflict_names(text: str) -> list[str]:
    """The text after each CONFLICT keyword, up to a line end or sentence punctuation, trimmed.

    "CONFLICT Avery Quinn. He was there" -> ["Avery Quinn"]. A clause also ends where the next
    CONFLICT begins. Empty clauses are dropped. Periods after initials and titles ("Dr. Okafor")
    and inside words ("avery.quinn") do not end a clause.
    """
    text = unicodedata.normalize("NFKC", text)
    matches = list(_CONFLICT.finditer(text))
    names: list[str] = []
    for index, match in enumerate(matches):
        stop = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        clause = text[match.end() : _clause_end(text, match.end(), stop)].strip()
        if clause:
            names.append(clause)
    return names


def named_in(text: str, people: Sequence[Named]) -> set[int]:
    """Ids of people whose full name or an alias appears in `text` as whole words.

    Case- and accent-insensitive; the words of a multi-word name may be separated by any run of
    whitespace. A word boundary is any non-letter, so "Avery" matches "@avery2" but not
    "bravery". Blank names, and names without a letter or digit, are ignored.
    """
    folded = _match_form(text)
    return {
        person.id for person in people if any(_contains_name(folded, name) for name in person.names)
    }


def flagged_in(text: str, people: Sequence[Named]) -> set[int]:
    """Ids of people a CONFLICT clause names.

    A person is flagged when one of their names appears as whole words in a clause, or when the
    clause holds one distinctive word of a name ("CONFLICT Quinn" flags Avery Quinn): reporters
    often know only a first or last name, and over-excluding only pages the next person.
    """
    clauses = [_match_form(clause) for clause in conflict_names(text)]
    if not clauses:
        return set()
    flagged: set[int] = set()
    for person in people:
        candidates = set(person.names) | _name_words(person.names)
        if any(_contains_name(clause, name) for clause in clauses for name in candidates):
            flagged.add(person.id)
    return flagged


def _word_list(text: str) -> list[str]:
    """Folded runs of letters and digits, in order."""
    return re.findall(r"[^\W_]+", fold(text))


def _match_form(text: str) -> str:
    """`fold`, without invisible format characters (soft hyphens, zero-width joiners), with
    ASCII apostrophes and hyphens, and with plain forms of the few letters `fold` keeps:
    "O’Brien" matches "O'Brien", "Lukasz" matches "Łukasz"."""
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return fold(visible).translate(_FANCY_PUNCTUATION).translate(_PLAIN_LETTERS)


def _name_words(names: tuple[str, ...]) -> set[str]:
    """Single words of `names` distinctive enough to stand for the person in a CONFLICT clause."""
    words: set[str] = set()
    for name in names:
        for word in _match_form(name).split():
            letters = sum(char.isalpha() for char in word)
            shaped = all(char.isalpha() or char in "'-" for char in word)
            if letters >= 2 and shaped and word not in _NAME_PARTICLES:
                words.add(word)
    return words


@dataclass(frozen=True, slots=True)
class _NamePattern:
    """A compiled name: its words joined by any whitespace, and which ends need a boundary."""

    pattern: re.Pattern[str]
    needs_left: bool
    needs_right: bool


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> _NamePattern | None:
    """Compile `name` once; None for a blank name or one without a letter or digit."""
    words = _match_form(name).split()
    if not any(char.isalnum() for word in words for char in word):
        return None
    return _NamePattern(
        pattern=re.compile(r"\s+".join(re.escape(word) for word in words)),
        needs_left=words[0][0].isalpha(),
        needs_right=words[-1][-1].isalpha(),
    )


def _contains_name(folded_text: str, name: str) -> bool:
    """Does `name` occur in `folded_text` with no letter glued to either end?

    Boundaries are checked with str.isalpha rather than regex classes, which count some numeric
    characters as letters. The pattern is literal words and \\s+, so searching is linear.
    """
    compiled = _name_pattern(name)
    if compiled is None:
        return False
    pos = 0
    while (match := compiled.pattern.search(folded_text, pos)) is not None:
        start, end = match.span()
        left_ok = not compiled.needs_left or start == 0 or not folded_text[start - 1].isalpha()
        right_ok = (
            not compiled.needs_right or end == len(folded_text) or not folded_text[end].isalpha()
        )
        if left_ok and right_ok:
            return True
        pos = start + 1
    return False


def _clause_end(text: str, start: int, stop: int) -> int:
    """Where the CONFLICT clause starting at `start` ends (at most `stop`)."""
    pos = start
    while (match := _CLAUSE_END.search(text, pos, stop)) is not None:
        at = match.start()
        if text[at] != "." or _is_sentence_period(text, start, at, stop):
            return at
        pos = at + 1
    return stop


def _is_sentence_period(text: str, start: int, at: int, stop: int) -> bool:
    """Is the '.' at `at` a full stop, rather than part of "Dr.", "J." or "avery.quinn"?"""
    if at + 1 < stop and not text[at + 1].isspace():
        return False  # inside a word, e.g. an e-mail address or "Node.js"
    if at + 1 >= stop:
        return True
    word_start = at
    while word_start > start and text[word_start - 1].isalpha():
        word_start -= 1
    word = fold(text[word_start:at])
    is_initial = len(word) == 1 and word.isalpha()
    return not (is_initial or word in _ABBREVIATIONS)
