"""The roster file: its YAML schema and every check it must pass before anything is applied.

`parse_roster` reads the text once (compose, then construct from the same node tree), so each
problem can name both the field path and the YAML line it came from:

    hotlines[0].responders[2].phone (line 9): '+1555' is not an E.164 number

The models also check themselves when built from Python (`HotlineSpec(...)`); `parse_roster`
defers those cross-field checks and runs them itself so that every problem gets its own line.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
# Formatting people type into numbers ("+1 555 555-0111"); stripped before the E.164 check.
_PHONE_FORMATTING = re.compile(r"[\s\-.()]")
_HM = "%Y-%m-%dT%H:%M"

# parse_roster passes this so the models leave their cross-field checks to it.
_DEFER_CHECKS = "hotline.roster.defer_checks"


# --- field types -------------------------------------------------------------------------


def normalize_phone(value: object) -> str:
    """An E.164 number ("+15555550111") from what a person typed, or PydanticCustomError."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError("e164", 'expected a phone number in quotes, e.g. "+15555550111"')
    text = str(value)
    compact = _PHONE_FORMATTING.sub("", text)
    if not E164_RE.match(compact):
        raise PydanticCustomError(
            "e164",
            "{value} is not an E.164 number (expected + then country code and number,"
            ' e.g. "+15555550111")',
            {"value": repr(text)},
        )
    try:
        parsed = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        parsed = None
    # Possible, not valid: the +1 555 555 01xx numbers are reserved for fiction and tests.
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise PydanticCustomError(
            "e164",
            "{value} is not an E.164 number (not a possible number for its country code)",
            {"value": repr(text)},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _none_as_empty_text(value: object) -> object:
    return "" if value is None else value


def _none_as_empty_list(value: object) -> object:
    return [] if value is None else value


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError(
            "number", "expected a number, not {value}", {"value": repr(value)}
        )
    return value


Phone = Annotated[str, BeforeValidator(normalize_phone)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
OptionalText = Annotated[str, BeforeValidator(_none_as_empty_text)]


_CONFIG = ConfigDict(extra="forbid", frozen=True)


# --- the models ----------------------------------------------------------------------------


class ResponderSpec(BaseModel):
    model_config = _CONFIG

    name: Text
    phone: Phone
    role: Literal["lead", "alternate"]
    aliases: Annotated[list[Text], BeforeValidator(_none_as_empty_list)] = []


class ShiftSpec(BaseModel):
    """On call from `start` (inclusive) to `end` (exclusive), local time of the hotline."""

    model_config = _CONFIG

    responder: Text
    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _local_time(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise PydanticCustomError(
                "local_time",
                'give a local time without an offset or Z, e.g. "2026-05-11T08:00"'
                " (shift times are in the hotline's timezone)",
            )
        return value


class TierSpec(BaseModel):
    model_config = _CONFIG

    notify: Literal["on_call_leads", "all_leads", "alternates"]
    after_minutes: Annotated[float, BeforeValidator(_no_bool), Field(ge=0, allow_inf_nan=False)]


class HotlineSpec(BaseModel):
    model_config = _CONFIG

    number: Phone
    name: Text
    timezone: str
    safety_info: OptionalText = ""
    emergency_info: OptionalText = ""
    responders: list[ResponderSpec] = Field(min_length=1)
    shifts: Annotated[list[ShiftSpec], BeforeValidator(_none_as_empty_list)] = []
    escalation: list[TierSpec] = Field(min_length=1)
    repeat: Annotated[int, Field(ge=0, strict=True)] = 0

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone",
                "{value} is not a known timezone (use an IANA name such as"
                ' "America/New_York" or "Europe/Berlin")',
                {"value": repr(value)},
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HotlineSpec:
        if not _deferred(info):
            _raise_problems(hotline_problems(self))
        return self

    def policy(self) -> dict[str, Any]:
        """The escalation policy as the hotline stores it (and each case copies)."""
        return {
            "tiers": [
                {"notify": t.notify, "after_minutes": t.after_minutes} for t in self.escalation
            ],
            "repeat": self.repeat,
        }

    def shift_utc(self, shift: ShiftSpec) -> tuple[datetime, datetime]:
        """The shift's start and end as UTC-aware datetimes."""
        return to_utc(shift.start, self.timezone), to_utc(shift.end, self.timezone)


class RosterFile(BaseModel):
    model_config = _CONFIG

    hotlines: list[HotlineSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> RosterFile:
        if not _deferred(info):
            problems = [p for i, h in enumerate(self.hotlines) for p in hotline_problems(h, i)]
            problems += roster_problems(list(enumerate(self.hotlines)))
            _raise_problems(problems)
        return self


def _deferred(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(_DEFER_CHECKS))


def _raise_problems(problems: list[tuple[Loc, str]]) -> None:
    if problems:
        raise ValueError("; ".join(f"{format_loc(loc)}: {msg}" for loc, msg in problems))


def to_utc(local: datetime, timezone: str) -> datetime:
    """A naive wall-clock time in `timezone` as a UTC-aware datetime (the earlier of two in a
    repeated hour)."""
    return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _exists_locally(local: datetime, timezone: str) -> bool:
    """False for a wall-clock time skipped by a daylight-saving change (e.g. 02:30 in spring)."""
    zone = ZoneInfo(timezone)
    return to_utc(local, timezone).astimezone(zone).replace(tzinfo=None) == local


# --- cross-field checks (plain functions: located problems, relative to the roster) ------


def hotline_problems(hotline: HotlineSpec, index: int = 0) -> list[tuple[Loc, str]]:
    """Everything wrong inside one hotline that the field types cannot see."""
    problems: list[tuple[Loc, str]] = []

    def problem(*loc: str | int, message: str) -> None:
        problems.append((("hotlines", index, *loc), message))

    if not any(r.role == "lead" for r in hotline.responders):
        problem("responders", message="at least one responder must have role: lead")

    first_phone: dict[str, int] = {}
    first_name: dict[str, int] = {}
    for i, r in enumerate(hotline.responders):
        if r.phone == hotline.number:
            problem("responders", i, "phone", message=f"{r.phone} is the hotline's own number")
        if r.phone in first_phone:
            message = f"{r.phone} is also the phone of responders[{first_phone[r.phone]}]"
            problem("responders", i, "phone", message=message)
        first_phone.setdefault(r.phone, i)
        name = r.name.casefold()
        if name in first_name:
            message = f"{r.name!r} is also the name of responders[{first_name[name]}]"
            problem("responders", i, "name", message=message)
        first_name.setdefault(name, i)

    # A report is matched against names and aliases: one word naming two people of the same
    # hotline could not say whom to exclude.
    owner: dict[str, int] = {}
    for i, r in enumerate(hotline.responders):
        owner.setdefault(r.name.casefold(), i)
    for i, r in enumerate(hotline.responders):
        for j, alias in enumerate(r.aliases):
            other = owner.setdefault(alias.casefold(), i)
            if other != i:
                message = (
                    f"alias {alias!r} is also the name or an alias of responders[{other}]"
                    f" ({hotline.responders[other].name!r}): a report naming it could not tell"
                    " them apart"
                )
                problem("responders", i, "aliases", j, message=message)

    for field, length in _answer_lengths(hotline).items():
        if length > REPORTER_ANSWER_LIMIT:
            message = (
                f"too long: with it the answer to a reporter would be {length} characters,"
                f" more than {REPORTER_ANSWER_LIMIT} (Twilio's advice for one readable text);"
                f" shorten it by {length - REPORTER_ANSWER_LIMIT}"
            )
            problem(field, message=message)

    names = {r.name for r in hotline.responders}
    earlier: dict[str, list[tuple[int, ShiftSpec]]] = {}
    for i, s in enumerate(hotline.shifts):
        if s.responder not in names:
            problem("shifts", i, "responder", message=_nobody_named(s.responder, hotline))
        if s.end <= s.start:
            message = f"the shift ends ({s.end:{_HM}}) before it starts ({s.start:{_HM}})"
            problem("shifts", i, "end", message=message)
            continue
        for field in ("start", "end"):
            value: datetime = getattr(s, field)
            if not _exists_locally(value, hotline.timezone):
                message = f"{value:{_HM}} does not exist in {hotline.timezone} (clocks skip it)"
                problem("shifts", i, field, message=message)
        for j, other in earlier.get(s.responder, []):
            if s.start < other.end and other.start < s.end:
                problem("shifts", i, message=f"overlaps shifts[{j}] of {s.responder!r}")
                break
        earlier.setdefault(s.responder, []).append((i, s))

    if hotline.escalation[0].after_minutes != 0:
        message = "the first tier is paged when a case opens: its after_minutes must be 0"
        problem("escalation", 0, "after_minutes", message=message)
    for i in range(1, len(hotline.escalation)):
        before, tier = hotline.escalation[i - 1].after_minutes, hotline.escalation[i].after_minutes
        if tier < before:
            message = (
                f"{tier:g} is earlier than the tier before it ({before:g}): tiers go in time order"
            )
            problem("escalation", i, "after_minutes", message=message)
    return problems


REPORTER_ANSWER_LIMIT = 320  # characters: Twilio advises 320 or fewer for one readable text
_LONGEST_CASE = 2**31 - 1  # case numbers are 32-bit integers


def _answer_lengths(hotline: HotlineSpec) -> dict[str, int]:
    """The longest answer a reporter can get that carries each of the hotline's texts."""
    from app import wording

    name, case = hotline.name, _LONGEST_CASE
    received = wording.report_received(name, case, hotline.safety_info)
    lengths = {
        "safety_info": max(len(received), len(wording.report_appended(case, hotline.safety_info)))
    }
    emergency = max(
        len(wording.emergency_answer(received, hotline.emergency_info)),
        len(wording.retired_report_received(name, case, hotline.emergency_info)),
        len(wording.outage_sms(name, hotline.emergency_info)),
    )
    if lengths["safety_info"] <= REPORTER_ANSWER_LIMIT or not hotline.emergency_info:
        lengths["emergency_info"] = emergency if hotline.emergency_info else 0
    return lengths


def roster_problems(hotlines: list[tuple[int, HotlineSpec]]) -> list[tuple[Loc, str]]:
    """What is wrong between hotlines: a number used twice, a responder's phone that is a
    hotline number."""
    problems: list[tuple[Loc, str]] = []
    first: dict[str, int] = {}
    for index, h in hotlines:
        if h.number in first:
            message = f"{h.number} is also the number of hotlines[{first[h.number]}]"
            problems.append((("hotlines", index, "number"), message))
        first.setdefault(h.number, index)
    for index, h in hotlines:
        for i, r in enumerate(h.responders):
            owner = first.get(r.phone)
            if owner is not None and owner != index:
                message = f"{r.phone} is the number of hotlines[{owner}], not a responder's phone"
                problems.append((("hotlines", index, "responders", i, "phone"), message))
    return problems


def _nobody_named(name: str, hotline: HotlineSpec) -> str:
    hint = ""
    for r in hotline.responders:
        if name.casefold() in {r.name.casefold(), *(a.casefold() for a in r.aliases)}:
            hint = f"; did you mean {r.name!r}? (a shift uses the full name)"
            break
    listed = ", ".join(repr(r.name) for r in hotline.responders)
    return f"names nobody: this hotline has no responder {name!r}{hint} (it has {listed})"


# --- parsing: YAML text to a checked RosterFile --------------------------------------------


@dataclass(frozen=True, slots=True)
class RosterProblem:
    where: str  # a field path such as "hotlines[0].responders[2].phone", or "YAML syntax"
    line: int | None  # 1-based, as editors count
    message: str
    column: int | None = None

    def __str__(self) -> str:
        at = ""
        if self.line is not None:
            at = f" (line {self.line}" + (f", column {self.column})" if self.column else ")")
        return f"{self.where}{at}: {self.message}"


class RosterError(Exception):
    """The roster was refused as a whole. str() lists every problem, one per line."""

    def __init__(self, problems: list[RosterProblem] | str):
        if isinstance(problems, str):
            problems = [RosterProblem("roster", None, problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `+15555550111` unquoted as the text it is, not an integer."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if not (first == "+" and tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"))
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_roster(text: str) -> RosterFile:
    """The checked roster, or RosterError naming every problem with its field and line."""
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
            duplicates = list(_duplicate_keys(root))
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise RosterError([_syntax_problem(exc)]) from None
    except yaml.YAMLError as exc:
        raise RosterError(f"not readable as YAML: {exc}") from None

    if data is None:
        raise RosterError([RosterProblem("roster", 1, "empty: expected a 'hotlines:' list")])
    problems = [RosterProblem(format_loc(loc), line, msg) for loc, line, msg in duplicates]

    located: list[tuple[Loc, str]] = []
    roster: RosterFile | None = None
    try:
        roster = RosterFile.model_validate(data, context={_DEFER_CHECKS: True})
    except ValidationError as exc:
        located += [(tuple(e["loc"]), _message(e)) for e in exc.errors(include_url=False)]

    if roster is not None:
        valid = list(enumerate(roster.hotlines))
    else:  # check the hotlines that are fine on their own; the rest have their errors already
        valid = []
        raw = data.get("hotlines") if isinstance(data, dict) else None
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            with contextlib.suppress(ValidationError):
                valid.append(
                    (index, HotlineSpec.model_validate(item, context={_DEFER_CHECKS: True}))
                )
    for index, hotline in valid:
        located += hotline_problems(hotline, index)
    located += roster_problems(valid)

    for loc, msg in located:
        problems.append(RosterProblem(format_loc(loc), _line(_node_at(root, loc)), msg))
    if problems:
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise RosterError(problems)
    assert roster is not None
    return roster


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "roster"


def _message(error: Any) -> str:
    """Pydantic's message in the roster's words."""
    kind: str = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"])
    if kind == "missing":
        return "missing (required)"
    got = _shown(error.get("input"))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"should be a mapping of keys and values (key: value), not {got}"
    if kind == "list_type":
        return f"should be a list (items starting with '-'), not {got}"
    if kind == "too_short":
        return "needs at least one entry"
    msg: str = error["msg"]
    msg = "should" + msg.removeprefix("Input should") if msg.startswith("Input should") else msg
    msg = msg[:1].lower() + msg[1:]
    if kind in _SHOW_INPUT or kind.endswith(("_type", "_parsing")) or kind.startswith("date"):
        return f"{msg}, not {got}"
    return msg


_SHOW_INPUT = {"literal_error", "greater_than", "greater_than_equal", "finite_number"}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MODEL_OF_LIST = {
    "hotlines": HotlineSpec,
    "responders": ResponderSpec,
    "shifts": ShiftSpec,
    "escalation": TierSpec,
}


def _unknown_key(loc: Loc) -> str:
    key = str(loc[-1])
    names = [p for p in loc[:-1] if isinstance(p, str)]
    model: type[BaseModel] = _MODEL_OF_LIST.get(names[-1], RosterFile) if names else RosterFile
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r} ({hint}allowed here: {', '.join(allowed)})"


def _syntax_problem(exc: yaml.MarkedYAMLError) -> RosterProblem:
    mark = exc.problem_mark or exc.context_mark
    text = exc.problem or "invalid YAML"
    if exc.context:
        context_line = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        text = f"{text} ({exc.context}{context_line})"
    syntax = (yaml.scanner.ScannerError, yaml.parser.ParserError, yaml.composer.ComposerError)
    where = "YAML syntax" if isinstance(exc, syntax) else "YAML"  # else: a tag we do not build
    if mark is None:
        return RosterProblem(where, None, text)
    return RosterProblem(where, mark.line + 1, text, column=mark.column + 1)


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _node_at(root: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    """The node a pydantic location points at, or the deepest node on the way there when the
    location does not exist (a missing field: the mapping that lacks it). A field is found at
    its key, so `responders:` followed by a block list names the line of `responders:`."""
    node = root
    for depth, part in enumerate(loc, start=1):
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:  # the last occurrence wins, as in the constructed data
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    found = k if depth == len(loc) else v
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part >= 0:
            found = node.value[part] if part < len(node.value) else None
        if found is None:
            return node
        node = found
    return node


def _duplicate_keys(root: yaml.Node | None) -> Iterator[tuple[Loc, int, str]]:
    """A key given twice in one mapping: YAML would silently keep the last one."""
    seen: set[int] = set()

    def walk(node: yaml.Node, loc: Loc) -> Iterator[tuple[Loc, int, str]]:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                if key is None or key == "<<":
                    continue
                line = k.start_mark.line + 1
                if key in first:
                    yield (*loc, key), line, f"duplicate key (first given at line {first[key]})"
                else:
                    first[key] = line
                yield from walk(v, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from walk(item, (*loc, i))

    if root is not None:
        yield from walk(root, ())
