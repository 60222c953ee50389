"""What a reporter's text says: emergencies, CONFLICT clauses and the responders it names."""

from __future__ import annotations

import dataclasses
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.cases.report import (
    EMERGENCY_WORDS,
    Named,
    conflict_names,
    flagged_in,
    fold,
    is_emergency,
    named_across,
    named_in,
    texts_in_a_row,
)

AVERY = Named(1, ("Avery Quinn", "Avery"))
BLAKE = Named(2, ("Blake Rivera",))
CASEY = Named(3, ("Casey Moreau",))
JOSE = Named(4, ("José Núñez", "Pepe"))
DANA = Named(5, ("Dana Okafor",))
OBRIEN = Named(6, ("Siobhán O'Brien",))
ANA = Named(7, ("Ana de Souza",))
LUKASZ = Named(8, ("Łukasz",))
SOREN = Named(9, ("Søren",))
ROSTER = [AVERY, BLAKE, CASEY, JOSE, DANA, OBRIEN, ANA, LUKASZ, SOREN]

# --- fold --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("José", "jose"),
        ("JOSÉ NÚÑEZ", "jose nunez"),
        ("Crème Brûlée", "creme brulee"),
        ("Ångström", "angstrom"),
        ("Siobhán", "siobhan"),
        ("Łukasz", "łukasz"),  # Ł has no decomposition: only case is folded
        ("Straße", "strasse"),
        ("ＳＴＯＰ", "stop"),
        ("İstanbul", "istanbul"),
        ("e\u0301", "e"),
        ("ﬁne", "fine"),
        ("Ⅻ", "xii"),
        ("911", "911"),
        ("", ""),
        ("  Avery  ", "  avery  "),
        ("ΣΊΣΥΦΟΣ", "σισυφοσ"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text())
def test_fold_leaves_no_combining_marks_or_upper_case(text: str) -> None:
    folded = fold(text)
    assert not any(unicodedata.category(char).startswith("M") for char in folded)
    assert folded == folded.casefold() or fold(folded) == folded


# --- is_emergency ------------------------------------------------------------------------------

REQUIRED_EMERGENCY_WORDS = ["emergency", "911", "danger", "weapon", "unsafe", "hurt", "police"]


def test_required_emergency_words_are_listed() -> None:
    assert set(REQUIRED_EMERGENCY_WORDS) <= EMERGENCY_WORDS
    assert all(word == fold(word) for word in EMERGENCY_WORDS)


@pytest.mark.parametrize("word", sorted(EMERGENCY_WORDS))
def test_every_emergency_word_is_detected(word: str) -> None:
    assert is_emergency(word)
    assert is_emergency(word.upper())
    assert is_emergency(f"Hall B: {word}!")
    assert is_emergency(f"({word})")


@pytest.mark.parametrize(
    "text",
    [
        "This is an EMERGENCY",
        "emergency",
        "Emergency!!!",
        "call 911",
        "CALL 911 NOW",
        "911!",
        "#911",
        "they are in danger",
        "DANGER",
        "he has a weapon",
        "Weapons in the hall",
        "I feel unsafe",
        "UNSAFE",
        "she is hurt",
        "he's hurting people",
        "Somebody got HURT.",
        "get the police",
        "Police!",
        "POLICE",
        "pólice",  # accents do not hide a word
        "ÉMERGENCY",
        "ＰＯＬＩＣＥ",  # full width
        "he has a knife",
        "GUN",
        "man with a gun near room 2",
        "she was injured",
        "someone is bleeding",
        "need an ambulance",
        "he threatened me",
        "this is a threat",
        "I'm not safe here",
        "not\nsafe",
        "dangerous guy at the bar",
        "he is suicidal",
        "person unconscious in the bathroom",
        "line one\nemergency\nline three",
        "emergency_contact",  # "_" separates words
        "911-call",
    ],
)
def test_is_emergency(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "someone made creepy comments at the party",
        "he will hurtle through the talk",
        "hurtful remarks",
        "hurtled",
        "the policy on slides",
        "policeman",  # not listed: "police" is, whole words only
        "an emergent property",
        "Gunther touched my shoulder",
        "the talk has begun",
        "a dangerfield quote",
        "weaponized incompetence",
        "the knifepoint of the argument",
        "call911",
        "room 9110",
        "room 1911",
        "19112",
        "safe space",
        "I am safe now",
        "the armchair was moved",
        "threadbare",
        "the theatre hall",
        "Avery Quinn was rude",
        "👍",
    ],
)
def test_is_not_emergency(text: str) -> None:
    assert not is_emergency(text)


@settings(max_examples=300)
@given(st.text())
def test_is_emergency_never_raises(text: str) -> None:
    assert isinstance(is_emergency(text), bool)


@given(
    st.sampled_from(sorted(w for w in EMERGENCY_WORDS if " " not in w)),
    st.text(alphabet=st.sampled_from(" \n\t.,;!?()-_/\"'#")),
    st.text(alphabet=st.sampled_from(" \n\t.,;!?()-_/\"'#")),
)
def test_emergency_word_between_separators(word: str, left: str, right: str) -> None:
    assert is_emergency(f"{left}{word}{right}")
    assert is_emergency(f"{left}{word.title()}{right}")


# --- conflict_names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("CONFLICT Avery Quinn. He was there", ["Avery Quinn"]),
        ("CONFLICT Avery Quinn", ["Avery Quinn"]),
        ("conflict avery", ["avery"]),
        ("Conflict: Avery Quinn", ["Avery Quinn"]),
        ("CONFLICT:Avery", ["Avery"]),
        ("CONFLICT - Avery", ["Avery"]),
        ("conflict with Blake Rivera", ["Blake Rivera"]),
        ("I have a conflict with Blake Rivera, he is my partner", ["Blake Rivera"]),
        ("CONFLICT WITH: Blake", ["Blake"]),
        ("conflict of interest with Casey Moreau!", ["Casey Moreau"]),
        ("Conflicts: Avery", ["Avery"]),
        ("CONFLICT Avery\nsomeone grabbed me", ["Avery"]),
        ("CONFLICT Avery\r\nsomeone grabbed me", ["Avery"]),
        ("CONFLICT Avery; he was there", ["Avery"]),
        ("CONFLICT Avery, Blake", ["Avery"]),
        ("CONFLICT Avery! Blake", ["Avery"]),
        ("CONFLICT Avery? maybe", ["Avery"]),
        ("CONFLICT   Avery   Quinn   ", ["Avery   Quinn"]),
        ("CONFLICT Avery. CONFLICT Blake.", ["Avery", "Blake"]),
        ("CONFLICT Avery CONFLICT Blake", ["Avery", "Blake"]),
        ("conflict avery\nconflict blake", ["avery", "blake"]),
        ("harassed at the bar. CONFLICT José Núñez", ["José Núñez"]),
        ("CONFLICT Dr. Okafor. She is my boss", ["Dr. Okafor"]),
        ("CONFLICT Mrs. Moreau", ["Mrs. Moreau"]),
        ("CONFLICT J. Smith", ["J. Smith"]),
        ("CONFLICT avery.quinn@example.org please", ["avery.quinn@example.org please"]),
        ("CONFLICT Siobhán O'Brien", ["Siobhán O'Brien"]),
        ("ＣＯＮＦＬＩＣＴ　Ａｖｅｒｙ", ["Avery"]),
        ("conflict:\nAvery", ["Avery"]),
    ],
)
def test_conflict_names(text: str, names: list[str]) -> None:
    assert conflict_names(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nothing to see",
        "CONFLICT",
        "CONFLICT.",
        "CONFLICT:",
        "CONFLICT with",
        "conflict!",
        "no conflicts",
        "I'm conflicted about Avery",  # "conflicted" is not the keyword
        "CONFLICTAvery",
        "preconflict Avery",
        "conflicting reports about Blake",
        "nonconflict Avery",
    ],
)
def test_no_conflict_names(text: str) -> None:
    assert conflict_names(text) == []


@settings(max_examples=300)
@given(st.text())
def test_conflict_names_are_trimmed_non_empty_substrings(text: str) -> None:
    normalized = unicodedata.normalize("NFKC", text)
    for name in conflict_names(text):
        assert name
        assert name == name.strip()
        assert name in normalized


@given(st.text(alphabet=st.sampled_from("CONFLICTconflict :\n.,wWithH AveryQuinn-")))
def test_conflict_names_never_raises_on_keyword_soup(text: str) -> None:
    assert isinstance(conflict_names(text), list)


# --- named_in ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Avery Quinn was rude to me", {1}),
        ("avery quinn was rude", {1}),
        ("AVERY QUINN", {1}),
        ("avery said hi", {1}),  # alias
        ("I told Avery.", {1}),
        ("(Avery)", {1}),
        ('"Avery"', {1}),
        ("@avery", {1}),
        ("avery's friend", {1}),
        ("Àvery", {1}),
        ("Avery\u0301", {1}),
        ("Blake Rivera", {2}),
        ("blake   rivera", {2}),
        ("Blake\nRivera", {2}),
        ("Blake\t \n Rivera", {2}),
        ("Blake\u00a0Rivera", {2}),
        ("jose nunez was there", {4}),
        ("JOSÉ NÚÑEZ", {4}),
        ("José Núñez", {4}),
        ("Jose\u0301 Nu\u0303n\u0303ez", {4}),  # decomposed accents
        ("ask pepe", {4}),
        ("siobhan o'brien", {6}),
        ("Siobhán O’Brien", {6}),  # typographic apostrophe
        ("ana de souza", {7}),
        ("Avery and Blake Rivera and Casey Moreau", {1, 2, 3}),
        ("ＡＶＥＲＹ", {1}),
        ("avery2", {1}),  # digits are not letters: a handle still names Avery
        ("avery_q", {1}),
        ("Lukasz", {8}),
        ("SOREN", {9}),
        ("Av\u00adery", {1}),  # soft hyphen
        ("\u200bAvery\u200b", {1}),
    ],
)
def test_named_in(text: str, ids: set[int]) -> None:
    assert named_in(text, ROSTER) == ids


@pytest.mark.parametrize(
    "text",
    [
        "",
        "someone at the bar",
        "Averyx",
        "bravery",
        "the braveryAvery",
        "Blakey",
        "riverain",
        "Caseload",
        "joseph",
        "pepperoni",
        "de la",  # name particles identify nobody
        "Dr.",
        "anatomy",
        "banana",
        "o",
    ],
)
def test_named_in_finds_no_one(text: str) -> None:
    assert named_in(text, ROSTER) == set()


@pytest.mark.parametrize("blank", ["", " ", "\n\t", "\u3000", "!!!", "-", "."])
def test_blank_and_letterless_names_are_ignored(blank: str) -> None:
    person = Named(9, (blank,))
    for text in ["", " ", "anything at all", "!!!", "- . -", blank]:
        assert named_in(text, [person]) == set()
        assert flagged_in(f"CONFLICT {text}", [person]) == set()


def test_named_in_with_no_people() -> None:
    assert named_in("Avery Quinn", []) == set()


def test_named_in_names_with_punctuation() -> None:
    people = [Named(1, ("Dr. Okafor",)), Named(2, ("J.R.",)), Named(3, ("@ops-lead",))]
    assert named_in("ask dr. okafor", people) == {1}
    assert named_in("ask dr.  okafor", people) == {1}
    assert named_in("ask j.r. now", people) == {2}
    assert named_in("ask xj.r. now", people) == set()
    assert named_in("ping @ops-lead", people) == {3}
    assert named_in("ping x@ops-lead", people) == {3}  # no letter boundary needed before '@'


def test_named_in_overlapping_candidates() -> None:
    # The first occurrence is glued to letters; a later one stands alone.
    assert named_in("aaaa aa", [Named(1, ("aa",))]) == {1}
    assert named_in("aaaaaa", [Named(1, ("aa",))]) == set()


def test_named_in_is_fast_on_long_and_pathological_text() -> None:
    people = [Named(i, (f"Person{chr(97 + i)} Name", "a a a b")) for i in range(20)]
    texts = [
        "a " * 50_000,
        "a" + " " * 100_000 + "a",
        "aa" * 50_000,
        "x" * 100_000 + " avery",
    ]
    started = time.perf_counter()
    for text in texts:
        named_in(text, people)
        flagged_in(f"CONFLICT {text}", people)
        is_emergency(text)
        conflict_names(text)
    assert named_in("x" * 100_000 + " avery", [AVERY]) == {1}
    assert conflict_names("conflict " * 20_000) == []
    assert time.perf_counter() - started < 10


letters = st.characters(categories=["Lu", "Ll", "Lt", "Lo"])


def _non_letter(char: str) -> bool:
    """Characters whose folded form holds no letter (so they really separate words)."""
    return not any(part.isalpha() for part in fold(char))


separators = st.text(st.characters(exclude_categories=["Cs"]).filter(_non_letter), max_size=5)


@st.composite
def names(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.text(letters, min_size=1, max_size=8), min_size=1, max_size=3))
    return " ".join(words)


@settings(max_examples=300)
@given(names(), separators, separators, st.lists(st.sampled_from([" ", "  ", "\n", "\t "])))
def test_named_in_finds_a_name_between_non_letter_separators(
    name: str, left: str, right: str, gaps: list[str]
) -> None:
    folded_words = fold(name).split()
    assume(folded_words and all(word.isalpha() for word in folded_words))
    words = name.split(" ")
    spaced = words[0]
    for index, word in enumerate(words[1:]):
        spaced += (gaps[index] if index < len(gaps) else " ") + word
    person = Named(42, (name,))
    assert named_in(f"{left}{spaced}{right}", [person]) == {42}
    if fold(spaced.upper()) == fold(spaced):  # "ı".upper() is "I": not the same letter folded
        assert named_in(f"{left}{spaced.upper()}{right}", [person]) == {42}


@settings(max_examples=300)
@given(names(), st.text(letters, min_size=1, max_size=3))
def test_named_in_needs_a_boundary(name: str, glue: str) -> None:
    """Every word of the name glued to letters on both sides names nobody; so does a one-word
    name with letters glued to one side (but a trailing "s", the possessive, still names)."""
    assume(fold(name).split() and all(word.isalpha() for word in fold(name).split()))
    assume(fold(glue).isalpha())
    assume(not set(fold(glue)) & set(fold(name)))  # "A" glued to "A A" spells "AA", a handle
    person = Named(42, (name,))
    glued = " ".join(f"{glue}{word}{glue}" for word in name.split(" "))
    assert named_in(glued, [person]) == set()
    if len(fold(name).split()) == 1:
        assert named_in(f"{glue}{name}", [person]) == set()
        if fold(glue) != "s":
            assert named_in(f"{name}{glue}", [person]) == set()


@settings(max_examples=300)
@given(st.text(), st.lists(st.tuples(st.integers(), st.lists(st.text(), max_size=3))))
def test_named_in_and_flagged_in_never_raise(text: str, raw: list[tuple[int, list[str]]]) -> None:
    people = [Named(pid, tuple(aliases)) for pid, aliases in raw]
    ids = {person.id for person in people}
    assert named_in(text, people) <= ids
    assert flagged_in(text, people) <= ids
    assert flagged_in(f"CONFLICT {text}", people) <= ids


# --- flagged_in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("CONFLICT Avery Quinn. He was there", {1}),
        ("conflict avery", {1}),
        ("Conflict: avery quinn", {1}),
        ("conflict with Blake Rivera", {2}),
        ("CONFLICT José Núñez", {4}),
        ("conflict jose nunez", {4}),
        ("CONFLICT pepe", {4}),
        ("CONFLICT Avery. CONFLICT Blake Rivera", {1, 2}),
        ("CONFLICT Avery and Casey Moreau", {1, 3}),
        ("I have a conflict of interest with Dr. Okafor!", {5}),
        # one distinctive word of a name is enough inside a CONFLICT clause
        ("CONFLICT Quinn", {1}),
        ("conflict: Rivera", {2}),
        ("conflict with blake", {2}),
        ("CONFLICT my ex, Casey", set()),  # the clause ends at the comma
        ("CONFLICT my ex Casey", {3}),
        ("CONFLICT O'Brien", {6}),
        ("CONFLICT Souza", {7}),
        ("CONFLICT de", set()),  # name particles identify nobody
        ("CONFLICT the guy in the red shirt", set()),
        ("Avery Quinn was there. CONFLICT Blake Rivera", {2}),  # named, not flagged
        ("Avery Quinn grabbed me", set()),
        ("", set()),
        ("CONFLICT", set()),
        ("CONFLICT Averyx", set()),
        ("CONFLICT bravery", set()),
    ],
)
def test_flagged_in(text: str, ids: set[int]) -> None:
    assert flagged_in(text, ROSTER) == ids


def test_flagged_in_with_no_people() -> None:
    assert flagged_in("CONFLICT Avery", []) == set()


# --- Named -------------------------------------------------------------------------------------


def test_named_is_a_frozen_slotted_value() -> None:
    person = Named(1, ("Avery Quinn", "Avery"))
    assert person == AVERY
    assert hash(AVERY) == hash(Named(1, ("Avery Quinn", "Avery")))
    assert not hasattr(AVERY, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        AVERY.id = 2  # type: ignore[misc]


# --- names as people write them ----------------------------------------------------------------
# A first or last name no other responder shares names its owner, in any common written form;
# shared ones name nobody unless written out. When in doubt, exclude.


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Blake was drunk", {2}),
        ("Rivera kept following me", {2}),
        ("it was blake", {2}),
        ("Blake's friend grabbed me", {2}),
        ("BLAKE'S", {2}),
        ("Blake’s", {2}),  # typographic apostrophe
        ("Blakes friend", {2}),  # the possessive without its apostrophe
        ("the Riveras car", {2}),
        ("Blake-Rivera", {2}),
        ("Blake‑Rivera", {2}),  # non-breaking hyphen
        ("blake_rivera", {2}),
        ("@blake_rivera", {2}),
        ("@blakerivera", {2}),
        ("@BlakeRivera", {2}),
        ("BlakeRivera", {2}),
        ("#BlakeRivera", {2}),
        ("blake.rivera@example.org", {2}),
        ("Blake Riveras", {2}),
        ("(Blake)", {2}),
        ("*blake*", {2}),
        ("'Rivera'", {2}),
        ("«Blake»", {2}),
        ("blake!!!", {2}),
        ("...rivera...", {2}),
        ("[Blake]", {2}),
        ("blake2", {2}),
        ("Blâke", {2}),
        ("RIVÉRA", {2}),
        ("B\u0301lake", {2}),
        ("ＢＬＡＫＥ", {2}),
        ("Rivera, Blake", {2}),
        ("quinn", {1}),
        ("Quinn's", {1}),
        ("Averyquinn", {1}),
        ("@avery.quinn", {1}),
        ("jose", {4}),
        ("nunez", {4}),
        ("Núñez's", {4}),
        ("Souza", {7}),
        ("de souza", {7}),
        ("Ana", {7}),
        ("O'Brien", {6}),
        ("obrien", {6}),
        ("Siobhan", {6}),
        ("Okafor", {5}),
        ("Dr. Okafor", {5}),
        ("Casey Moreaux", {3}),  # the first name alone names Casey
        ("caseys", {3}),
        ("Avery and Blake and Casey", {1, 2, 3}),
    ],
)
def test_a_name_no_one_else_has_names_its_owner(text: str, ids: set[int]) -> None:
    assert named_in(text, ROSTER) == ids


SAM_KIM = Named(1, ("Sam Kim",))
SAM_LEE = Named(2, ("Sam Lee",))
JORDAN_LEE = Named(3, ("Jordan Lee", "JL"))
ROBIN_PARK = Named(4, ("Robin Park",), active=False)  # no longer on the roster
ROBIN_CHEN = Named(5, ("Robin Chen",))
SHARED = [SAM_KIM, SAM_LEE, JORDAN_LEE, ROBIN_PARK, ROBIN_CHEN]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Sam was rude", set()),  # two Sams: the first name alone names neither
        ("Lee was rude", set()),
        ("sam's", set()),
        ("Kim was rude", {1}),
        ("Sam Kim", {1}),
        ("Sam Lee", {2}),
        ("Sam K", {1}),
        ("Sam K.", {1}),
        ("sam_k", {1}),
        ("@samk", {1}),
        ("S. Lee", {2}),
        ("@slee", {2}),
        ("J. Lee", {3}),
        ("jlee", {3}),
        ("Lee, Sam", {2}),
        ("Lee Jordan", {3}),
        ("JL", {3}),
        ("Jordan", {3}),
        ("Robin", {5}),  # a former responder does not make "Robin" shared
        ("Park", {4}),  # but is still named by what is theirs alone
        ("Sam Kim and Sam Lee", {1, 2}),
        ("Sam Kimball", set()),
        ("sam kay", set()),
    ],
)
def test_a_shared_name_names_nobody_unless_written_out(text: str, ids: set[int]) -> None:
    assert named_in(text, SHARED) == ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("CONFLICT Sam", {1, 2}),  # the reporter asked: everyone it may mean
        ("conflict: lee", {2, 3}),
        ("CONFLICT, Robin", {4, 5}),
        ("CONFLICT @samk", {1}),
    ],
)
def test_a_conflict_clause_flags_everyone_a_shared_name_may_mean(text: str, ids: set[int]) -> None:
    assert flagged_in(text, SHARED) == ids


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("CONFLICT, Blake", ["Blake"]),
        ("conflict: blake", ["blake"]),
        ("CONFLICT; Blake Rivera", ["Blake Rivera"]),
        ("CONFLICT! Blake", ["Blake"]),
        ("CONFLICT... Blake", ["Blake"]),
        ("CONFLICT - Blake", ["Blake"]),
        ("CONFLICT (Blake)", ["Blake)"]),
        ('CONFLICT "Blake Rivera"', ['Blake Rivera"']),
        ("CONFLICT -> blake", ["blake"]),
        ("conflict,blake", ["blake"]),
        ("CONFLICT_blake", ["blake"]),
        ("CONFLICT of interest: Blake", ["Blake"]),
        ("conflict, with blake", ["blake"]),
        ("CONFLICT.\nBlake", ["Blake"]),
    ],
)
def test_conflict_followed_by_punctuation(text: str, names: list[str]) -> None:
    assert conflict_names(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "CONFLICT, Blake",
        "conflict: blake",
        "Conflict - Rivera",
        "CONFLICT!!! blake",
        "conflict,@brivera",
    ],
)
def test_conflict_followed_by_punctuation_flags(text: str) -> None:
    assert flagged_in(text, ROSTER) == {2}


BLAKE_RIVERA = Named(1, ("Blake Rivera",))
BLAKE_CHEN = Named(2, ("Blake Chen",))
SAM_RIVERA = Named(3, ("Sam Rivera",))
TWO_BLAKES = [BLAKE_RIVERA, BLAKE_CHEN, SAM_RIVERA]


@pytest.mark.parametrize(
    ("texts", "ids"),
    [
        (["Blake"], set()),
        (["Rivera"], set()),
        (["it was Blake", "Rivera I think"], {1}),
        (["Blake", "Rivera"], {1}),
        (["Bla", "ke Rivera"], {1}),  # a name split mid-way
        (["Blake Riv", "era"], {1}),
        (["blake", "chen", "was there"], {2}),
        (["someone at the bar", "Blake"], set()),
        (["Blake was rude", "and then left"], set()),
        ([], set()),
    ],
)
def test_a_name_split_across_texts_names(texts: list[str], ids: set[int]) -> None:
    assert named_across(texts, TWO_BLAKES) == ids


first_names = ["Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Gray", "Harper"]
last_names = ["Quinn", "Rivera", "Moreau", "Okafor", "Lindqvist", "Park", "Santos", "Núñez"]
punctuation = st.text(alphabet=st.sampled_from(" \n\t.,;:!?()[]{}<>\"'*_-/#@«»…"), max_size=4)


@st.composite
def rosters_of_names(draw: st.DrawFn) -> list[Named]:
    firsts = draw(st.lists(st.sampled_from(first_names), min_size=1, max_size=5))
    lasts = draw(st.lists(st.sampled_from(last_names), min_size=len(firsts), max_size=len(firsts)))
    return [Named(i, (f"{f} {s}",)) for i, (f, s) in enumerate(zip(firsts, lasts, strict=True))]


def _written(word: str, draw: st.DrawFn) -> str:
    """`word` as someone might type it: any case per letter, stray accents, full width."""
    out = ""
    for char in word:
        char = char.upper() if draw(st.booleans()) else char.lower()
        if draw(st.integers(0, 4)) == 0:
            char += "\u0301"
        out += char
    if draw(st.integers(0, 9)) == 0:
        out = unicodedata.normalize("NFKC", out).translate(
            {c: c + 0xFEE0 for c in range(0x21, 0x7F)}
        )
    return out


@st.composite
def name_in_a_text(draw: st.DrawFn) -> tuple[list[Named], int, str]:
    """A roster, one person on it, and a text naming them in a common written form."""
    people = draw(rosters_of_names())
    person = draw(st.sampled_from(people))
    first, last = person.names[0].split(" ")
    unique = [
        word for word in (first, last) if sum(word in p.names[0].split(" ") for p in people) == 1
    ]
    forms = (
        [
            f"{first} {last}",
            f"{first}-{last}",
            f"@{first}_{last}",
            f"@{first}{last}",
            f"{first}.{last}@example.org",
            f"{last}, {first}",
        ]
        + [word for word in unique]
        + [f"{word}'s" for word in unique]
        + [f"{word}s" for word in unique]
    )
    form = draw(st.sampled_from(forms))
    written = "".join(
        _written(part, draw) if part.isalpha() else part for part in re.split(r"(\W+)", form)
    )
    left = draw(punctuation)
    right = draw(punctuation)
    filler = draw(st.sampled_from(["", "it was ", "I think ", "the person: ", "ask "]))
    return people, person.id, f"{filler}{left}{written}{right} at the party"


@settings(max_examples=500)
@given(name_in_a_text())
def test_any_common_written_form_names_the_person(case: tuple[list[Named], int, str]) -> None:
    people, person_id, text = case
    assert person_id in named_in(text, people)


@settings(max_examples=300)
@given(name_in_a_text(), st.data())
def test_a_name_split_anywhere_across_two_texts_still_names(
    case: tuple[list[Named], int, str], data: st.DataObject
) -> None:
    people, person_id, text = case
    cut = data.draw(st.integers(0, len(text)))
    assert person_id in named_across([text[:cut], text[cut:]], people)


innocent_words = ["someone", "grabbed", "me", "at", "the", "party", "near", "booth", "twelve"]


@settings(max_examples=300)
@given(
    rosters_of_names(),
    st.lists(st.sampled_from(innocent_words), max_size=12),
    st.lists(punctuation, max_size=12),
)
def test_a_text_without_a_name_names_nobody(
    people: list[Named], words: list[str], gaps: list[str]
) -> None:
    text = "".join(w + (gaps[i] if i < len(gaps) else " ") + " " for i, w in enumerate(words))
    assert named_in(text, people) == set()
    assert named_across(text.split(" "), people) <= set()  # split anywhere: still no one


# --- texts_in_a_row ----------------------------------------------------------------------------

T0 = datetime(2026, 5, 11, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("gaps_in_minutes", "expected"),
    [
        ([], ["a"]),
        ([1], ["a", "b"]),
        ([5], ["a", "b"]),  # exactly the gap still counts
        ([6], ["b"]),
        ([1, 1, 1], ["a", "b", "c", "d"]),
        ([1, 30, 1], ["c", "d"]),  # a long pause starts a new thought
        ([30, 1, 1], ["b", "c", "d"]),
    ],
)
def test_texts_in_a_row(gaps_in_minutes: list[int], expected: list[str]) -> None:
    at = [T0]
    for gap in gaps_in_minutes:
        at.append(at[-1] + timedelta(minutes=gap))
    texts = list(zip(at, "abcd", strict=False))
    assert texts_in_a_row(texts, gap=timedelta(minutes=5)) == expected


def test_texts_in_a_row_of_nothing() -> None:
    assert texts_in_a_row([], gap=timedelta(minutes=5)) == []
