"""What a reporter's text says: emergencies, CONFLICT clauses and the responders it names."""

from __future__ import annotations

import dataclasses
import time
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.sms.report import (
    EMERGENCY_WORDS,
    Named,
    conflict_names,
    flagged_in,
    fold,
    is_emergency,
    named_in,
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
        "Averyquinn",
        "the braveryAvery",
        "Blake",  # "Blake Rivera" has no alias
        "Rivera",
        "Blake Riveras",
        "BlakeRivera",
        "Blake-Rivera",
        "Casey Moreaux",
        "jose",
        "nunez",
        "pepperoni",
        "de souza",
        "Ana",
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
    assume(fold(name).split() and all(word.isalpha() for word in fold(name).split()))
    assume(fold(glue).isalpha())
    person = Named(42, (name,))
    assert named_in(f"{glue}{name}", [person]) == set()
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
