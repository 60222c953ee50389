"""The responder command grammar: spellings people really type, and everything it must refuse."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sms.grammar import (
    HELP_TEXT,
    MAX_CASE_DIGITS,
    Ack,
    CarrierKeyword,
    Command,
    Help,
    Invalid,
    New,
    Recuse,
    Reply,
    Resolve,
    Status,
    parse_command,
)
from app.telephony.carrier import CARRIER_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS

COMMAND_TYPES = (Ack, Recuse, Reply, Resolve, Status, Help, New, CarrierKeyword, Invalid)

# GSM 03.38 basic character set (one septet each); the extension table is left out on purpose.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC for char in text)


# --- ACK ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "ACK 7",
        "ack 7",
        "Ack 7",
        "aCk 7",
        "A 7",
        "a 7",
        "ack   7",
        "ACK\t7",
        "ACK\n7",
        "Ack#7",
        "ACK #7",
        "ACK # 7",
        "ack#7",
        "ack7",
        "A7",
        "a#7",
        "ACK 7.",
        "ACK 7!",
        "ACK 7!!",
        "ACK 7?",
        "ACK 7)",
        "ACK 7,",
        "ACK 7:",
        "ACK 7-",
        "ACK 7 on my way",
        "ACK 7, on my way",
        "ACK 7. On my way!",
        "ACK 7 8",
        "ACK: 7",
        "ACK:7",
        "ACK 007",
        "ACK 07",
        "  ACK 7  ",
        "\n\tACK 7\r\n",
        "ACKNOWLEDGE 7",
        "acknowledged 7",
        "Acknowledged #7",
        "ACK 7👍",
        "ACK 7 👍",
        "A 7 omw",
    ],
)
def test_ack_with_number(body: str) -> None:
    assert parse_command(body) == Ack(7)


@pytest.mark.parametrize(
    "body",
    [
        "ACK",
        "ack",
        "Ack",
        "A",
        "a",
        "ack.",
        "ACK!",
        "A.",
        "ACK!!!",
        "ACK?",
        "ACK:",
        " ACK ",
        "ACK 👍",
        "ACK👍",
        "ACK 🙏🏽",
        "ACK ...",
        "ACK - ",
        "ACK !!",
        "Acknowledged",
        "ACKNOWLEDGED.",
        "acknowledge",
    ],
)
def test_bare_ack(body: str) -> None:
    assert parse_command(body) == Ack(None)


@pytest.mark.parametrize(
    ("body", "case"),
    [
        ("ACK 1", 1),
        ("ACK 12", 12),
        ("ACK 123456789", 123_456_789),
        ("ACK 999999999", 999_999_999),
        ("ACK 000000001", 1),
        ("A 42 running over", 42),
        ("ACK #1000", 1000),
    ],
)
def test_ack_numbers(body: str, case: int) -> None:
    assert parse_command(body) == Ack(case)


@pytest.mark.parametrize(
    "body",
    [
        "ACK abc",
        "ACK -3",
        "ACK -0",
        "ACK 0",
        "ACK 00",
        "ACK #0",
        "ACK +3",
        "ACK 3.5",
        "ACK 3,5",
        "ACK 7-8",
        "ACK 7abc",
        "ACK 7th",
        "ACK seven",
        "ACK on my way",
        "ACK #",
        "ACK #abc",
        "ACK ##7",
        "ACK 1234567890",
        "ACK 0000000001",
        "ACK " + "9" * 50,
        "ACK " + "1" * 5000,
        "A friend told me",
        "ACK. on my way",
        "ACK x7",
        "ACK_7",
        "ack.7",
        "ACK.   7",
    ],
)
def test_ack_invalid(body: str) -> None:
    result = parse_command(body)
    assert isinstance(result, Invalid)
    assert result.command == "ACK"
    assert result.reason


def test_ack_invalid_reason_names_the_fix() -> None:
    assert parse_command("ACK abc") == Invalid("ACK", "ACK needs a case number, e.g. ACK 12")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("ACK 0", "start at 1"),
        ("ACK 1234567890", "too long"),
        ("ACK -3", "needs a case number"),
    ],
)
def test_invalid_reasons_say_what_is_wrong(body: str, fragment: str) -> None:
    result = parse_command(body)
    assert isinstance(result, Invalid)
    assert fragment in result.reason


# --- keywords must be whole words --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Avery",
        "Avery 7",
        "avery is on the way",
        "ACKBAR",
        "ackbar 7",
        "Acked 7",
        "ACKS 7",
        "Ask 7",
        "AC 7",
        "Acknowledging 7",
        "Anybody there?",
        "Alright",
        "Ä 7",
        "A\u0308 7",  # A + combining diaeresis is not A
        "ACK\u0301 7",
        "Recused 7",
        "Recusing 7",
        "Replying 7 hi",
        "Replies 7 hi",
        "Resolved 7",
        "Resolves 7",
        "Statuses",
        "Helpful",
        "News about 7",
        "Newton",
        "АСК 7",  # Cyrillic look-alikes
        "\u00df",
        "ı",
    ],
)
def test_keyword_prefixes_of_other_words_are_not_commands(body: str) -> None:
    assert parse_command(body) == Help()


# --- RECUSE / RESOLVE --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("RECUSE 7", Recuse(7)),
        ("recuse 7", Recuse(7)),
        ("Recuse #7", Recuse(7)),
        ("recuse#7", Recuse(7)),
        ("RECUSE7", Recuse(7)),
        ("RECUSE   7.", Recuse(7)),
        ("RECUSE 7 I know the reporter", Recuse(7)),
        ("RECUSE: 7", Recuse(7)),
        ("RESOLVE 7", Resolve(7)),
        ("resolve #7", Resolve(7)),
        ("Resolve#7", Resolve(7)),
        ("RESOLVE 7!", Resolve(7)),
        ("resolve 7 all sorted, thanks", Resolve(7)),
        ("RESOLVE 123456789", Resolve(123_456_789)),
    ],
)
def test_recuse_and_resolve(body: str, expected: Command) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("RECUSE", "RECUSE"),
        ("recuse.", "RECUSE"),
        ("RECUSE please", "RECUSE"),
        ("RECUSE x", "RECUSE"),
        ("RECUSE -1", "RECUSE"),
        ("RECUSE 0", "RECUSE"),
        ("RECUSE #", "RECUSE"),
        ("RECUSE 1234567890", "RECUSE"),
        ("RESOLVE", "RESOLVE"),
        ("resolve!", "RESOLVE"),
        ("RESOLVE x", "RESOLVE"),
        ("RESOLVE seven", "RESOLVE"),
        ("RESOLVE 0", "RESOLVE"),
        ("RESOLVE 7.5", "RESOLVE"),
        ("RESOLVE 7a", "RESOLVE"),
        ("RESOLVE 99999999999", "RESOLVE"),
    ],
)
def test_recuse_and_resolve_need_a_number(body: str, command: str) -> None:
    result = parse_command(body)
    assert isinstance(result, Invalid)
    assert result.command == command
    assert command in result.reason or "case number" in result.reason.lower()


def test_recuse_reason() -> None:
    assert parse_command("RECUSE") == Invalid(
        "RECUSE", "RECUSE needs a case number, e.g. RECUSE 12"
    )


# --- REPLY -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("REPLY 7 we are on our way", Reply(7, "we are on our way")),
        ("reply 7 We Are On Our Way", Reply(7, "We Are On Our Way")),
        ("Reply #7 hello", Reply(7, "hello")),
        ("REPLY#7 hello", Reply(7, "hello")),
        ("reply7 hello", Reply(7, "hello")),
        ("REPLY 7: where are you?", Reply(7, "where are you?")),
        ("REPLY 7, where are you?", Reply(7, "where are you?")),
        ("REPLY: 7 hi", Reply(7, "hi")),
        ("REPLY   7    spaced   out   text   ", Reply(7, "spaced   out   text")),
        ("REPLY 7 line one\nline two", Reply(7, "line one\nline two")),
        ("REPLY 7\nHi, this is the safety team.", Reply(7, "Hi, this is the safety team.")),
        ("REPLY 7 7 minutes away", Reply(7, "7 minutes away")),
        ("REPLY 7 #1 priority", Reply(7, "#1 priority")),
        ("REPLY 7 ...are you ok?", Reply(7, "...are you ok?")),
        ("REPLY 7 👍", Reply(7, "👍")),
        ("REPLY 7 on my way 🏃", Reply(7, "on my way 🏃")),
        ("REPLY 7 Café Zürich, room 2", Reply(7, "Café Zürich, room 2")),
        ("REPLY 7 STOP", Reply(7, "STOP")),
        ("REPLY 7 ACK 8", Reply(7, "ACK 8")),
        ("  REPLY 7 hi  \n", Reply(7, "hi")),
        ("REPLY 7 \u200bhi\u200b", Reply(7, "hi")),
        ("REPLY 7 hi\u00a0there", Reply(7, "hi\u00a0there")),  # inner spacing kept as sent
        ("REPLY 123456789 x", Reply(123_456_789, "x")),
    ],
)
def test_reply(body: str, expected: Reply) -> None:
    assert parse_command(body) == expected


def test_reply_text_is_cut_from_the_message_as_sent() -> None:
    # The keyword and number are read NFKC-normalised; the reporter gets the responder's own text.
    assert parse_command("ＲＥＰＬＹ　７　ｈｉ　ｔｈｅｒｅ") == Reply(7, "ｈｉ　ｔｈｅｒｅ")
    assert parse_command("REPLY 7 e\u0301te\u0301") == Reply(7, "e\u0301te\u0301")
    assert parse_command("REPLY 7 ﬁne") == Reply(7, "ﬁne")


@pytest.mark.parametrize(
    "body",
    [
        "REPLY",
        "REPLY 7",
        "REPLY 7   ",
        "REPLY 7 ...",
        "REPLY 7 !?",
        "REPLY 7 \u200b",
        "REPLY #7",
        "REPLY abc hi",
        "REPLY hi there",
        "REPLY -7 hi",
        "REPLY 0 hi",
        "REPLY 7hi",
        "REPLY 7:hi",
        "REPLY 7.5 hi",
        "REPLY 1234567890 hi",
    ],
)
def test_reply_invalid(body: str) -> None:
    result = parse_command(body)
    assert result == Invalid(
        "REPLY", "REPLY needs a case number and a message, e.g. REPLY 12 we are on our way"
    )


# --- NEW, STATUS, HELP -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("NEW someone was harassed at the bar", New("someone was harassed at the bar")),
        ("new Someone Was Harassed", New("Someone Was Harassed")),
        ("New: man in red shirt, hall B", New("man in red shirt, hall B")),
        ("NEW   two   spaces   ", New("two   spaces")),
        ("NEW\nmultiline\nreport", New("multiline\nreport")),
        ("NEW 🚨 hall B", New("🚨 hall B")),
        ("NEW 3 people", New("3 people")),
        ("NEW José Núñez saw it", New("José Núñez saw it")),
        ("ＮＥＷ　ｔｅｓｔ", New("ｔｅｓｔ")),
        ("NEW. fight outside", New("fight outside")),
        ("NEW - fight outside", New("fight outside")),
        ("NEW — fight outside", New("fight outside")),
        ("NEW ...someone grabbed me", New("someone grabbed me")),
        ("NEW #hallB fight", New("#hallB fight")),
    ],
)
def test_new(body: str, expected: New) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize("body", ["NEW", "new", "NEW ", "NEW.", "NEW:", "NEW !!!", "NEW \u200b"])
def test_new_needs_text(body: str) -> None:
    result = parse_command(body)
    assert isinstance(result, Invalid)
    assert result.command == "NEW"
    assert "NEW" in result.reason


@pytest.mark.parametrize(
    "body", ["STATUS", "status", "Status", "STATUS?", "status please", "  STATUS\n", "STATUS 7"]
)
def test_status(body: str) -> None:
    assert parse_command(body) == Status()


@pytest.mark.parametrize(
    "body",
    [
        "HELP",
        "help",
        "Help!",
        "HELP me",
        "?",
        "??",
        "",
        " ",
        "\n\t \r\n",
        "\u00a0",
        "\u3000",
        "\u200b",
        "\ufeff",
        "\u200b \u200d\u2060",
        "hello there",
        "Hello",
        "thanks",
        "on my way",
        "7",
        "#7",
        "12 ACK",
        "👍",
        "🚨🚨🚨",
        "!",
        "...",
        "STOP 7",
        "stop it",
        "please stop",
        "STOPPED",
        "Yes I'm on it",
        "yes 7",
        "START 7",
        "End of shift",
        "ok",
        "R 7",
        "INFO",
        "\x00",
        "\x1b[31m",
        "\ud800",
        "ACK\x007",
    ],
)
def test_help(body: str) -> None:
    assert parse_command(body) == Help()


# --- carrier keywords --------------------------------------------------------------------------

REQUIRED_CARRIER_WORDS = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "START",
    "YES",
    "UNSTOP",
]


def test_carrier_keywords_cover_the_required_words() -> None:
    assert set(REQUIRED_CARRIER_WORDS) <= CARRIER_KEYWORDS
    assert all(word.isupper() and word.isascii() for word in CARRIER_KEYWORDS)


@pytest.mark.parametrize("word", sorted(CARRIER_KEYWORDS))
@pytest.mark.parametrize(
    "spelling",
    [
        "{upper}",
        "{lower}",
        "{title}",
        "  {lower}  ",
        "\n{upper}\n",
        "{upper}.",
        "{lower}!",
        "{title}!!",
        "{upper} .",
        "{upper}?",
        "\u200b{upper}\u200b",
        "{fullwidth}",
    ],
)
def test_carrier_keywords(word: str, spelling: str) -> None:
    fullwidth = "".join(chr(ord(char) + 0xFEE0) for char in word)
    body = spelling.format(upper=word, lower=word.lower(), title=word.title(), fullwidth=fullwidth)
    assert parse_command(body) == CarrierKeyword(word)


def test_opt_out_and_opt_in_words() -> None:
    assert CARRIER_KEYWORDS == OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS
    assert not OPT_OUT_KEYWORDS & OPT_IN_KEYWORDS
    assert {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"} <= OPT_OUT_KEYWORDS
    assert {"START", "YES", "UNSTOP"} <= OPT_IN_KEYWORDS
    stop = parse_command("stop")
    assert isinstance(stop, CarrierKeyword)
    assert stop.opts_out
    assert parse_command("Unsubscribe!") == CarrierKeyword("UNSUBSCRIBE")
    assert CarrierKeyword("STOPALL").opts_out
    assert not CarrierKeyword("START").opts_out
    assert not CarrierKeyword("YES").opts_out


@pytest.mark.parametrize("word", sorted(CARRIER_KEYWORDS))
def test_carrier_words_inside_sentences_are_not_keywords(word: str) -> None:
    assert parse_command(f"{word} now please") == Help()
    assert parse_command(f"{word}7") == Help()
    assert parse_command(f"{word}S") == Help()


# --- Unicode -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("ＡＣＫ　７", Ack(7)),
        ("ａｃｋ７", Ack(7)),
        ("ＡＣＫ　＃７", Ack(7)),
        ("ＡＣＫ", Ack(None)),
        ("ACK ７", Ack(7)),
        ("ACK ٧", Ack(7)),  # Arabic-Indic
        ("ACK ۷", Ack(7)),  # Extended Arabic-Indic
        ("ACK ७", Ack(7)),  # Devanagari
        ("ACK ৭", Ack(7)),  # Bengali
        ("ACK ๗", Ack(7)),  # Thai
        ("ACK ٤٢", Ack(42)),
        ("ACK 𝟕", Ack(7)),  # mathematical bold digit
        ("ACK ⑦", Ack(7)),  # circled digit
        ("ACK ⁷", Ack(7)),  # superscript
        ("ACK\u00a07", Ack(7)),  # no-break space
        ("ACK\u202f7", Ack(7)),  # narrow no-break space
        ("ACK\u20077", Ack(7)),  # figure space
        ("\u200bACK 7", Ack(7)),
        ("ACK 7\u200b", Ack(7)),
        ("A\u200bCK 7", Ack(7)),  # zero-width space pasted inside the word
        ("\ufeffACK 7", Ack(7)),  # byte-order mark
        ("\u200eACK 7\u200f", Ack(7)),  # bidi marks
        ("ACK\u200d7", Ack(7)),
        ("ＲＥＣＵＳＥ　７", Recuse(7)),
        ("ＲＥＳＯＬＶＥ　＃１２", Resolve(12)),
        ("ＳＴＡＴＵＳ", Status()),
        ("ＨＥＬＰ", Help()),
        ("？", Help()),
        ("ＳＴＯＰ", CarrierKeyword("STOP")),
        ("ACK\u30007", Ack(7)),
    ],
)
def test_unicode_forms(body: str, expected: Command) -> None:
    assert parse_command(body) == expected


# --- very long input ---------------------------------------------------------------------------


def test_very_long_inputs() -> None:
    long_text = "x" * 100_000
    assert parse_command("ACK 7 " + long_text) == Ack(7)
    assert parse_command("REPLY 7 " + long_text) == Reply(7, long_text)
    assert parse_command("NEW " + long_text) == New(long_text)
    assert parse_command(long_text) == Help()
    assert parse_command("A" * 100_000) == Help()
    assert parse_command(" " * 100_000) == Help()
    assert parse_command("\u200b" * 100_000) == Help()
    assert parse_command("ACK " + "!" * 100_000) == Ack(None)
    assert parse_command("ACK #" + "7" * 100_000) == Invalid(
        "ACK", "That case number is too long, e.g. ACK 12"
    )
    assert isinstance(parse_command("ACK 7" + "." * 100_000 + "x"), Invalid)
    assert parse_command("STOP" + "!" * 100_000) == CarrierKeyword("STOP")
    # "ACK 7ACK 7ACK..." after NFKC: "7ACK" is no case number
    assert isinstance(parse_command("ＡＣＫ　７" * 20_000), Invalid)


# --- HELP_TEXT and reasons ---------------------------------------------------------------------


def test_help_text_is_one_short_gsm7_message() -> None:
    assert len(HELP_TEXT) <= 300
    assert is_gsm7(HELP_TEXT)
    for usage in ["ACK n", "ACK -", "RECUSE n", "REPLY n text", "RESOLVE n", "STATUS", "NEW text"]:
        assert usage in HELP_TEXT
    assert "HELP" in HELP_TEXT


@pytest.mark.parametrize(
    "body",
    ["ACK x", "ACK 0", "ACK 9999999999", "RECUSE", "RESOLVE x", "REPLY 7", "REPLY x y", "NEW"],
)
def test_invalid_reasons_are_short_gsm7_sentences(body: str) -> None:
    result = parse_command(body)
    assert isinstance(result, Invalid)
    assert result.command in {"ACK", "RECUSE", "RESOLVE", "REPLY", "NEW"}
    assert is_gsm7(result.reason)
    assert len(result.reason) <= 160
    assert result.command in result.reason


# --- the command types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        Ack(1),
        Ack(None),
        Recuse(1),
        Reply(1, "x"),
        Resolve(1),
        Status(),
        Help(),
        New("x"),
        CarrierKeyword("STOP"),
        Invalid("ACK", "why"),
    ],
)
def test_commands_are_frozen_slotted_values(command: Command) -> None:
    assert dataclasses.is_dataclass(command)
    assert not hasattr(command, "__dict__")
    assert command == dataclasses.replace(command)
    assert hash(command) == hash(dataclasses.replace(command))
    fields = dataclasses.fields(command)
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(command, fields[0].name, None)


def test_distinct_commands_differ() -> None:
    assert Ack(7) != Recuse(7)
    assert Ack(7) != Ack(None)
    assert Status() != Help()


# --- properties --------------------------------------------------------------------------------

case_numbers = st.integers(min_value=1, max_value=10**MAX_CASE_DIGITS - 1)
keywords = st.sampled_from(
    ["ACK", "A", "RECUSE", "REPLY", "RESOLVE", "STATUS", "HELP", "NEW", "STOP", "ack", "Ａ"]
)


@settings(max_examples=500)
@given(st.text())
def test_never_raises_on_any_text(body: str) -> None:
    assert isinstance(parse_command(body), COMMAND_TYPES)


@settings(max_examples=500)
@given(keywords, st.text(alphabet=st.sampled_from(" #.!?:-0123456789٧７\u200b\u00a0ab👍")))
def test_never_raises_after_a_keyword(keyword: str, rest: str) -> None:
    assert isinstance(parse_command(keyword + rest), COMMAND_TYPES)


@settings(max_examples=300)
@given(keywords, st.text())
def test_never_raises_after_a_keyword_and_any_text(keyword: str, rest: str) -> None:
    assert isinstance(parse_command(f"{keyword} {rest}"), COMMAND_TYPES)


@given(case_numbers)
def test_ack_n(case: int) -> None:
    assert parse_command(f"ACK {case}") == Ack(case)


@given(case_numbers, st.sampled_from(["ACK {}", "a {}", "Ack#{}", "ack{}", "ACK #{}.", "A {} x"]))
def test_ack_n_spellings(case: int, template: str) -> None:
    assert parse_command(template.format(case)) == Ack(case)


@given(case_numbers)
def test_ack_n_in_full_width_and_arabic_indic_digits(case: int) -> None:
    full_width = "".join(chr(ord(d) - ord("0") + 0xFF10) for d in str(case))
    arabic = "".join(chr(ord(d) - ord("0") + 0x0660) for d in str(case))
    assert parse_command(f"ＡＣＫ　{full_width}") == Ack(case)
    assert parse_command(f"ACK {arabic}") == Ack(case)


@given(case_numbers)
def test_recuse_and_resolve_n(case: int) -> None:
    assert parse_command(f"RECUSE {case}") == Recuse(case)
    assert parse_command(f"resolve #{case}") == Resolve(case)


@given(st.integers(min_value=10**MAX_CASE_DIGITS, max_value=10**40))
def test_more_than_nine_digits_is_invalid(case: int) -> None:
    assert isinstance(parse_command(f"ACK {case}"), Invalid)
    assert isinstance(parse_command(f"RESOLVE {case}"), Invalid)


@given(st.integers(max_value=0))
def test_zero_and_negative_are_invalid(case: int) -> None:
    assert isinstance(parse_command(f"ACK {case}"), Invalid)


def _is_clean_text(text: str) -> bool:
    """Starts with a visible letter and has no blank or invisible characters at its ends."""
    return (
        bool(text)
        and text[0].isalpha()
        and not text[-1].isspace()
        and unicodedata.category(text[-1]) != "Cf"
    )


@given(case_numbers, st.text(min_size=1).filter(_is_clean_text))
def test_reply_keeps_the_text_as_sent(case: int, text: str) -> None:
    assert parse_command(f"REPLY {case} {text}") == Reply(case, text)


@given(st.text(min_size=1).filter(_is_clean_text))
def test_new_keeps_the_text_as_sent(text: str) -> None:
    assert parse_command(f"NEW {text}") == New(text)
