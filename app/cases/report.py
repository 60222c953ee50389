"""What a reporter's text says: emergency words, CONFLICT clauses and responders it names.

Pure (no I/O). Matching is accent- and case-insensitive on whole words, because reporters type
fast on phones ("jose nunez", "AVERY") and a missed conflict of interest is far worse than an
extra exclusion: an excluded lead only means the next person is paged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from app.roster.people import Named

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
    r"(?<![^\W\d_])conflicts?(?![^\W\d_])[\W_]*"
    r"(?:of\s+interest(?![^\W\d_])[\W_]*)?(?:with(?![^\W\d_])[\W_]*)?",
    re.IGNORECASE,
)
"""The CONFLICT keyword and what may follow it before the name: any punctuation
("CONFLICT, Blake", "conflict: blake", "CONFLICT - Blake"), "of interest", "with"."""

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
    """Ids of the people `text` names, in any common written form.

    A person is named by their full name (also last name first: "Rivera, Blake") or an
    alias; by a first or last name (or another word of a name) that no other active person
    in `people` has; by their name shortened to an initial ("B. Rivera", "Blake R") when no
    one else's is the same. Case- and accent-insensitive, on whole words: the words of a name may be
    joined by any whitespace, by up to three punctuation characters, or by nothing
    ("Blake-Rivera", "@blake_rivera", "@blakerivera"); a possessive ("Blake's", "Blakes")
    still names. A word boundary is any non-letter, so "Avery" matches "@avery2" but not
    "bravery". Blank names, and names without a letter or digit, are ignored.
    """
    folded = _match_form(text)
    return {
        person_id
        for person_id, forms in _naming_forms(tuple(people)).items()
        if any(_contains_form(folded, form) for form in forms)
    }


def named_across(texts: Sequence[str], people: Sequence[Named]) -> set[int]:
    """`named_in` over texts sent one after the other ("Blake" | "Rivera", "Bla" | "ke"):
    read as one text, both with a space and with nothing between them."""
    if len(texts) < 2:
        return named_in(texts[0], people) if texts else set()
    return named_in(" ".join(texts), people) | named_in("".join(texts), people)


def texts_in_a_row(texts: Sequence[tuple[datetime, str]], *, gap: timedelta) -> list[str]:
    """The last of `texts` (oldest first, with when each came) and those before it that came
    at most `gap` before the next: one thought typed over several messages."""
    run: list[str] = []
    after: datetime | None = None
    for at, text in reversed(texts):
        if after is not None and after - at > gap:
            break
        run.append(text)
        after = at
    return run[::-1]


def flagged_in(text: str, people: Sequence[Named]) -> set[int]:
    """Ids of people a CONFLICT clause names.

    A person is flagged when one of their names, or any form `named_in` knows (one word of a
    name, initials, a handle), appears in a clause, even when another person shares it
    ("CONFLICT Quinn" flags Avery Quinn, and both Sams for "CONFLICT Sam"): the reporter asked
    for it, and over-excluding only pages the next person.
    """
    clauses = [_match_form(clause) for clause in conflict_names(text)]
    if not clauses:
        return set()
    flagged: set[int] = set()
    for person in people:
        strong, derived = _forms_of(person.names)
        if any(_contains_form(clause, form) for clause in clauses for form in strong | derived):
            flagged.add(person.id)
    return flagged


Form = tuple[str, ...]
"""A way to write a name: its runs of letters and digits ("o'brien" -> ("o", "brien")),
matched with any short separator, or none, between them."""

_TITLES: frozenset[str] = frozenset({"dr", "mr", "mrs", "ms", "mx", "prof", "jr", "sr", "st"})
"""Words of a name that identify nobody on their own."""

_SEPARATOR = r"(?:\s++|[\W_]{0,3}+)"
"""Between the words of a name: any whitespace, up to three other non-alphanumerics, or
nothing. Possessive quantifiers: a failed match never backtracks into a long run."""


def _atoms(word: str) -> Form:
    return tuple(re.findall(r"[^\W_]+", word))


def _significant(atom: str) -> bool:
    """Can this one word stand for a person: two letters or more, no title or particle?"""
    return (
        sum(char.isalpha() for char in atom) >= 2
        and atom.isalpha()
        and atom not in _NAME_PARTICLES
        and atom not in _TITLES
    )


@lru_cache(maxsize=4096)
def _forms_of(names: tuple[str, ...]) -> tuple[frozenset[Form], frozenset[Form]]:
    """A person's forms: `strong` (each full name, also last name first, and each alias:
    always naming them) and `derived` (single words and initialled names: naming them only
    when no one else has the same)."""
    strong: set[Form] = set()
    derived: set[Form] = set()
    for name in names:
        words = [atoms for atoms in map(_atoms, _match_form(name).split()) if atoms]
        full = tuple(atom for atoms in words for atom in atoms)
        if not full:
            continue
        strong.add(full)
        for atoms in words:
            if len(atoms) > 1 and any(map(_significant, atoms)):
                derived.add(atoms)  # "o'brien", "jean-luc"
            derived.update((atom,) for atom in atoms if _significant(atom))
        named = [atoms for atoms in words if not (len(atoms) == 1 and atoms[0] in _TITLES)]
        if len(named) >= 2 and all(map(_significant, (named[0][0], named[-1][-1]))):
            first, last = named[0], named[-1]
            strong.add(last + first)  # "Rivera, Blake": still the full name
            derived.add((first[0][0], *last))  # "B. Rivera", "@brivera"
            derived.add((*first, last[0][0]))  # "Blake R."
    return frozenset(strong), frozenset(derived - strong)


@lru_cache(maxsize=256)
def _naming_forms(people: tuple[Named, ...]) -> dict[int, frozenset[Form]]:
    """Every person's forms that name them in a report: their strong forms, and the derived
    forms no other active person has in any form."""
    forms: dict[int, tuple[set[Form], set[Form]]] = {}
    owners: dict[Form, set[int]] = {}
    for person in people:
        strong, derived = _forms_of(person.names)
        mine = forms.setdefault(person.id, (set(), set()))
        mine[0].update(strong)
        mine[1].update(derived)
        if person.active:
            for form in strong | derived:
                owners.setdefault(form, set()).add(person.id)
    return {
        person_id: frozenset(
            strong | {form for form in derived if owners.get(form, set()) <= {person_id}}
        )
        for person_id, (strong, derived) in forms.items()
    }


@lru_cache(maxsize=4096)
def _form_pattern(form: Form) -> re.Pattern[str]:
    return re.compile(_SEPARATOR.join(map(re.escape, form)))


def _contains_form(folded_text: str, form: Form) -> bool:
    """Does `form` occur in `folded_text` with no letter glued to either end (a trailing "s",
    the possessive written without its apostrophe, is allowed)?

    Boundaries are checked with str.isalpha rather than regex classes, which count some numeric
    characters as letters. The pattern is literal words and bounded separators, so searching
    is linear.
    """
    if form[0] not in folded_text:
        return False
    pattern = _form_pattern(form)
    needs_left = form[0][0].isalpha()
    needs_right = form[-1][-1].isalpha()
    pos = 0
    while (match := pattern.search(folded_text, pos)) is not None:
        start, end = match.span()
        left_ok = not needs_left or start == 0 or not folded_text[start - 1].isalpha()
        if left_ok and (not needs_right or _ends_word(folded_text, end)):
            return True
        pos = start + 1
    return False


def _ends_word(text: str, end: int) -> bool:
    """Is `end` the end of a word, or of a word and a possessive "s"?"""
    if end == len(text) or not text[end].isalpha():
        return True
    return text[end] == "s" and (end + 1 == len(text) or not text[end + 1].isalpha())


def _word_list(text: str) -> list[str]:
    """Folded runs of letters and digits, in order."""
    return re.findall(r"[^\W_]+", fold(text))


def _match_form(text: str) -> str:
    """`fold`, without invisible format characters (soft hyphens, zero-width joiners), with
    ASCII apostrophes and hyphens, and with plain forms of the few letters `fold` keeps:
    "O’Brien" matches "O'Brien", "Lukasz" matches "Łukasz"."""
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return fold(visible).translate(_FANCY_PUNCTUATION).translate(_PLAIN_LETTERS)


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
