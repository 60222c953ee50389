"""The roster file is refused as a whole, and each problem names its field and its line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from app.paging.eligibility import TARGETS
from app.roster.schema import (
    HotlineSpec,
    RosterError,
    RosterFile,
    TierSpec,
    parse_roster,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"

# Line numbers below are those of this text (line 1 is "hotlines:").
BASE = """\
hotlines:
  - number: "+15555550100"
    name: "Test Conf"
    timezone: "America/New_York"
    responders:
      - {name: "Robin Example", phone: "+15555550111", role: lead, aliases: ["Robin"]}
      - {name: "Sam Placeholder", phone: "+15555550112", role: lead}
      - {name: "Toni Sample", phone: "+15555550121", role: alternate}
    shifts:
      - {responder: "Robin Example", start: "2026-05-11T08:00", end: "2026-05-11T20:00"}
    escalation:
      - {notify: on_call_leads, after_minutes: 0}
      - {notify: all_leads, after_minutes: 5}
      - {notify: alternates, after_minutes: 10}
    repeat: 1
"""


def shift_line(responder: str, start: str, end: str) -> str:
    return f'      - {{responder: "{responder}", start: "{start}", end: "{end}"}}\n'


def problems(text: str) -> list[str]:
    with pytest.raises(RosterError) as caught:
        parse_roster(text)
    lines = str(caught.value).splitlines()
    assert lines == [str(p) for p in caught.value.problems]
    return lines


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_the_contract_example_roster_parses():
    roster = parse_roster(EXAMPLE.read_text())
    (hotline,) = roster.hotlines
    assert hotline.number == "+15555550100"
    assert hotline.name == "Example Conf 2026"
    assert [r.name for r in hotline.responders] == [
        "Avery Quinn",
        "Blake Rivera",
        "Casey Moreau",
        "Dana Okafor",
        "Emery Lindqvist",
    ]
    assert [r.role for r in hotline.responders].count("lead") == 3
    assert hotline.responders[0].aliases == ["Avery"]
    assert hotline.shifts[0].start == datetime(2026, 5, 11, 8, 0)
    assert hotline.policy() == {
        "tiers": [
            {"notify": "on_call_leads", "after_minutes": 0},
            {"notify": "all_leads", "after_minutes": 5},
            {"notify": "alternates", "after_minutes": 10},
        ],
        "repeat": 1,
    }


def test_a_valid_roster_parses_with_defaults():
    roster = parse_roster(BASE)
    hotline = roster.hotlines[0]
    assert hotline.safety_info == "" and hotline.emergency_info == ""
    assert hotline.responders[1].aliases == []
    assert hotline.shift_utc(hotline.shifts[0]) == (
        datetime(2026, 5, 11, 12, 0, tzinfo=UTC),
        datetime(2026, 5, 12, 0, 0, tzinfo=UTC),
    )


def test_numbers_are_normalised_to_e164_even_unquoted_or_formatted():
    text = edit('"+15555550112"', "+1 (555) 555-0112", edit('"+15555550111"', "+15555550111"))
    hotline = parse_roster(text).hotlines[0]
    assert [r.phone for r in hotline.responders[:2]] == ["+15555550111", "+15555550112"]


def test_fractional_minutes_are_kept():
    text = edit("after_minutes: 5}", "after_minutes: 0.05}")
    assert parse_roster(text).hotlines[0].escalation[1].after_minutes == 0.05


def test_an_unknown_key_is_named_with_its_line():
    text = edit('    name: "Test Conf"\n', '    name: "Test Conf"\n    colour: blue\n')
    (problem,) = problems(text)
    assert problem.startswith("hotlines[0].colour (line 4): unknown key 'colour'")


def test_a_misspelt_key_gets_a_suggestion():
    text = edit("role: alternate}", 'role: alternate, alias: ["T"]}')
    (problem,) = problems(text)
    assert problem.startswith("hotlines[0].responders[2].alias (line 8): unknown key 'alias'")
    assert "did you mean 'aliases'?" in problem


def test_a_non_e164_phone_is_named_with_its_line():
    (problem,) = problems(edit('"+15555550121"', '"+1555"'))
    assert problem.startswith(
        "hotlines[0].responders[2].phone (line 8): '+1555' is not an E.164 number"
    )


def test_a_number_without_plus_is_refused():
    (problem,) = problems(edit('number: "+15555550100"', "number: 15555550100"))
    assert problem.startswith("hotlines[0].number (line 2): '15555550100' is not an E.164 number")


def test_an_impossible_number_is_refused():
    (problem,) = problems(edit('"+15555550112"', '"+1555555011"'))
    assert problem.startswith("hotlines[0].responders[1].phone (line 7):")
    assert "not a possible number" in problem


def test_lines_are_found_in_block_style_too():
    text = """\
hotlines:
  - number: "+15555550100"
    name: "Test Conf"
    timezone: "America/New_York"
    responders:
      - name: "Robin Example"
        phone: "+15555550111"
        role: lead
      - name: "Sam Placeholder"
        phone: "+1555"
        role: lead
    escalation:
      - notify: on_call_leads
        after_minutes: 0
"""
    assert problems(text) == [
        "hotlines[0].responders[1].phone (line 10): '+1555' is not an E.164 number"
        ' (expected + then country code and number, e.g. "+15555550111")'
    ]


def test_a_shift_naming_nobody_is_refused():
    (problem,) = problems(edit('{responder: "Robin Example"', '{responder: "Rob Exemple"'))
    assert problem.startswith("hotlines[0].shifts[0].responder (line 10): names nobody")
    assert "'Rob Exemple'" in problem


def test_a_shift_by_alias_suggests_the_full_name():
    (problem,) = problems(edit('{responder: "Robin Example"', '{responder: "Robin"'))
    assert "did you mean 'Robin Example'?" in problem


def test_overlapping_shifts_of_one_responder_are_refused():
    text = edit(
        '"2026-05-11T20:00"}\n',
        '"2026-05-11T20:00"}\n'
        + shift_line("Sam Placeholder", "2026-05-11T08:00", "2026-05-11T20:00")
        + shift_line("Robin Example", "2026-05-11T19:00", "2026-05-11T23:00"),
    )
    (problem,) = problems(text)
    assert problem == "hotlines[0].shifts[2] (line 12): overlaps shifts[0] of 'Robin Example'"


def test_a_duplicated_shift_is_an_overlap():
    shift = (
        '      - {responder: "Robin Example", start: "2026-05-11T08:00", end: "2026-05-11T20:00"}\n'
    )
    (problem,) = problems(edit(shift, shift * 2))
    assert problem.startswith("hotlines[0].shifts[1] (line 11): overlaps shifts[0]")


def test_back_to_back_shifts_do_not_overlap():
    text = edit(
        '"2026-05-11T20:00"}\n',
        '"2026-05-11T20:00"}\n'
        + shift_line("Robin Example", "2026-05-11T20:00", "2026-05-12T08:00"),
    )
    assert len(parse_roster(text).hotlines[0].shifts) == 2


def test_a_shift_ending_before_it_starts_is_refused():
    (problem,) = problems(edit('end: "2026-05-11T20:00"', 'end: "2026-05-11T07:00"'))
    assert problem.startswith("hotlines[0].shifts[0].end (line 10): the shift ends")


def test_a_shift_time_with_an_offset_is_refused():
    (problem,) = problems(edit('start: "2026-05-11T08:00"', 'start: "2026-05-11T08:00Z"'))
    assert problem.startswith("hotlines[0].shifts[0].start (line 10): give a local time")


def test_a_shift_time_skipped_by_daylight_saving_is_refused():
    text = edit(
        '"2026-05-11T08:00", end: "2026-05-11T20:00"', '"2026-03-08T02:30", end: "2026-03-08T09:00"'
    )
    (problem,) = problems(text)
    assert problem.startswith(
        "hotlines[0].shifts[0].start (line 10): 2026-03-08T02:30 does not exist"
    )


def test_an_unknown_tier_target_is_refused():
    (problem,) = problems(edit("notify: all_leads", "notify: everyone"))
    assert problem.startswith("hotlines[0].escalation[1].notify (line 13):")
    assert "'everyone'" in problem and "'on_call_leads', 'all_leads' or 'alternates'" in problem


def test_tiers_out_of_time_order_are_refused():
    (problem,) = problems(edit("after_minutes: 10}", "after_minutes: 4}"))
    assert problem.startswith("hotlines[0].escalation[2].after_minutes (line 14): 4 is earlier")


def test_the_first_tier_pages_at_once():
    (problem,) = problems(edit("after_minutes: 0}", "after_minutes: 1}"))
    assert problem.startswith("hotlines[0].escalation[0].after_minutes (line 12):")


def test_negative_minutes_and_repeat_are_refused():
    text = edit("repeat: 1", "repeat: -1", edit("after_minutes: 5}", "after_minutes: -5}"))
    assert [p.split(":")[0] for p in problems(text)] == [
        "hotlines[0].escalation[1].after_minutes (line 13)",
        "hotlines[0].repeat (line 15)",
    ]


def test_an_unknown_timezone_is_refused():
    (problem,) = problems(edit('"America/New_York"', '"America/Springfield"'))
    assert problem.startswith(
        "hotlines[0].timezone (line 4): 'America/Springfield' is not a known timezone"
    )


def test_duplicate_phones_and_names_in_a_hotline_are_refused():
    text = edit('"Toni Sample", phone: "+15555550121"', '"Sam Placeholder", phone: "+15555550111"')
    assert problems(text) == [
        "hotlines[0].responders[2].phone (line 8): +15555550111 is also the phone of responders[0]",
        "hotlines[0].responders[2].name (line 8): 'Sam Placeholder' is also the name of"
        " responders[1]",
    ]


def test_a_responder_phone_equal_to_the_hotline_number_is_refused():
    (problem,) = problems(edit('"+15555550121"', '"+15555550100"'))
    assert (
        problem
        == "hotlines[0].responders[2].phone (line 8): +15555550100 is the hotline's own number"
    )


def test_duplicate_hotline_numbers_are_refused():
    second = BASE.removeprefix("hotlines:\n")
    (problem,) = problems(BASE + second)
    assert problem == "hotlines[1].number (line 16): +15555550100 is also the number of hotlines[0]"


def test_a_responder_phone_equal_to_another_hotline_number_is_refused():
    second = edit('"+15555550100"', '"+15555550101"', BASE.removeprefix("hotlines:\n"))
    second = edit('"+15555550111"', '"+15555550100"', second)
    (problem,) = problems(BASE + second)
    assert problem.startswith(
        "hotlines[1].responders[0].phone (line 20): +15555550100 is the number"
    )


def test_a_hotline_without_a_lead_is_refused():
    text = edit("role: lead}", "role: alternate}", edit("role: lead,", "role: alternate,"))
    assert problems(text) == [
        "hotlines[0].responders (line 5): at least one responder must have role: lead"
    ]


def test_a_missing_field_names_the_mapping_that_lacks_it():
    text = edit('    timezone: "America/New_York"\n', "")
    assert problems(text) == ["hotlines[0].timezone (line 2): missing (required)"]


def test_a_hotline_needs_responders_and_tiers():
    text = """\
hotlines:
  - number: "+15555550100"
    name: "Test Conf"
    timezone: "UTC"
    responders: []
    escalation: []
"""
    assert problems(text) == [
        "hotlines[0].responders (line 5): needs at least one entry",
        "hotlines[0].escalation (line 6): needs at least one entry",
    ]


def test_a_yaml_syntax_error_names_its_line():
    text = edit("role: lead}\n", "role: lead\n")
    (problem,) = problems(text)
    assert problem.startswith("YAML syntax (line 8, column ")


def test_bad_indentation_names_its_line():
    text = edit("    repeat: 1", "   repeat: 1")
    (problem,) = problems(text)
    assert problem.startswith("YAML syntax (line 15, column 4):")


def test_a_duplicate_key_is_refused_rather_than_silently_overwritten():
    text = edit("    repeat: 1\n", "    repeat: 1\n    repeat: 2\n")
    assert problems(text) == [
        "hotlines[0].repeat (line 16): duplicate key (first given at line 15)"
    ]


def test_an_empty_file_is_refused():
    assert problems("# nothing yet\n") == ["roster (line 1): empty: expected a 'hotlines:' list"]


def test_a_file_that_is_not_a_mapping_is_refused():
    (problem,) = problems("- 1\n- 2\n")
    assert problem.startswith("roster (line 1): should be a mapping")


def test_yaml_tags_that_build_objects_are_refused():
    (problem,) = problems("hotlines: !!python/object:os.system {}\n")
    assert problem.startswith("YAML (line 1, column 11): could not determine a constructor")


def test_every_problem_is_listed_one_per_line_in_file_order():
    text = edit('"+15555550121"', '"+1555"', edit("notify: all_leads", "notify: everyone"))
    text = edit("    name: ", "    nmae: ", text)
    lines = problems(text)
    assert [line.split(" (")[0] for line in lines] == [
        "hotlines[0].name",  # missing, reported at its hotline (line 2)
        "hotlines[0].nmae",
        "hotlines[0].responders[2].phone",
        "hotlines[0].escalation[1].notify",
    ]


def test_cross_field_checks_also_run_on_a_valid_hotline_next_to_a_broken_one():
    second = edit('"+15555550100"', '"+15555550101"', BASE.removeprefix("hotlines:\n"))
    second = edit('{responder: "Robin Example"', '{responder: "Nobody"', second)
    lines = problems(edit('"+15555550121"', '"+1555"') + second)
    assert [line.split(" (")[0] for line in lines] == [
        "hotlines[0].responders[2].phone",
        "hotlines[1].shifts[0].responder",
    ]


def test_models_built_in_python_check_themselves():
    good = parse_roster(BASE).hotlines[0].model_dump()
    good["shifts"][0]["responder"] = "Nobody"
    with pytest.raises(ValidationError, match=r"shifts\[0\]\.responder: names nobody"):
        HotlineSpec.model_validate(good)
    with pytest.raises(ValidationError, match="names nobody"):
        RosterFile.model_validate({"hotlines": [good]})


def test_tier_targets_are_the_ones_paging_knows():
    assert get_args(TierSpec.model_fields["notify"].annotation) == tuple(TARGETS)
