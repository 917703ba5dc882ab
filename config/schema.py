"""What each deployer-editable file may hold: one pydantic model per file.

Unknown keys are errors (``extra="forbid"``): ``categoris:`` for ``categories:`` or a
key indented one level too deep would otherwise be read as "not set" and the gateway
would start fine and misbehave later. Sub-trees that the routing work extends
(``routing:`` under an agency, a category or a file) are left open on purpose and are
documented as such in the shipped files.

`validate_document` turns pydantic's errors into `Problem` lines carrying the YAML line
of the offending key (from `config.loader.Document`).
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StringConstraints,
    ValidationError,
)

from config.loader import Document
from config.problems import ConfigError, Problem

Language = Literal["id", "en"]
#: Codes appear in URLs, the API and SMS: lower case, digits, ``-`` and ``_``.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1)]
#: A name per language ({id: ..., en: ...}) or one name for both.
Names = dict[Language, Text] | Text
#: Phrase lists may nest (YAML anchors: ``unless: [*past, *habitual]``).
Phrases = list[str | list[str]]
#: Open sub-trees for routing settings (weights, thresholds) the routing work adds.
Open = dict[str, Any]


class Strict(BaseModel):
    # Numbers where text is expected are read as text, as the gateway always did (``112``).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True)


# --------------------------------------------------------------------------- agencies.yaml
class Open311Forward(Strict):
    endpoint: Annotated[str, StringConstraints(pattern=r"^https?://")]
    api_key_env: str | None = None
    service_code: str | None = None
    service_codes: dict[str, str] = {}


class WebhookForward(Strict):
    url: Annotated[str, StringConstraints(pattern=r"^https?://")]
    secret_env: str


class Forward(Strict):
    open311: Open311Forward | None = None
    webhook: WebhookForward | None = None


class AgencyEntry(Strict):
    code: Code
    name: Text
    coordinator: bool = False
    categories: list[Code] = []
    areas: list[str] = []
    forward: Forward | None = None
    # A body outside regional authority (PLN, BPN, ...): only suggested, and the citizen is
    # referred to it with ``contact``.
    external: bool = False
    contact: str | None = None
    routing: Open = {}


class AgenciesFile(Strict):
    city: Text
    region_keyword: Annotated[str, StringConstraints(pattern=r"^\S+$")] | None = None
    agencies: list[AgencyEntry] = Field(min_length=1)
    routing: Open = {}


# --------------------------------------------------------------------------- categories.yaml
Deadline = Literal["verify", "follow_up", "close_after", "reopen_window"]
#: A keyword, or ``{word: weight}`` where routing weighs its keywords.
Keyword = str | dict[str, float]


def keyword_words(keywords: list[Keyword]) -> list[str]:
    """The words of a keyword list, weights set aside."""
    return [w for k in keywords for w in ([k] if isinstance(k, str) else list(k))]


class CategoryEntry(Strict):
    code: Code
    name: Names
    # Routing evidence (docs/routing.md): strong words, hints, regular expressions, counter-words.
    keywords: list[Keyword] = []
    weak: list[str] = []
    patterns: list[str] = []
    not_: list[str] = Field(default=[], alias="not")
    # False keeps the category out of the citizen's menu.
    menu: bool = True
    auto_dispatch: bool = False
    deadlines: dict[Deadline, NonNegativeInt] = {}
    routing: Open = {}


class CategoriesFile(Strict):
    categories: list[CategoryEntry] = Field(min_length=1)
    routing: Open = {}


# --------------------------------------------------------------------------- routing.yaml
class RoutingFile(Strict):
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.45
    suggestions: PositiveInt = 3
    min_training_cases: PositiveInt = 50
    learned_weight: Annotated[float, Field(ge=0, le=1)] = 0.5
    weights: dict[Literal["keyword", "weak", "pattern", "not"], float] = {}
    generic_words: list[str] = []


# --------------------------------------------------------------------------- lifecycle.yaml
def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone (Asia/Jakarta, Asia/Makassar or Asia/Jayapura)"
        ) from None
    return value


class Deadlines(Strict):
    verify: NonNegativeInt = 3
    follow_up: NonNegativeInt = 5
    close_after: NonNegativeInt = 10
    reopen_window: NonNegativeInt = 10


class LifecycleFile(Strict):
    deadlines: Deadlines = Deadlines()
    timezone: Annotated[str, AfterValidator(_time_zone)] = "Asia/Jakarta"
    escalate_after: NonNegativeInt = 2
    archive_reasons: dict[Code, Names] = {}


# --------------------------------------------------------------------------- holidays.yaml
def _bare_date(value: Any) -> Any:
    """``- 2026-08-21`` is short for ``- {date: 2026-08-21}``."""
    return value if isinstance(value, dict) else {"date": value}


class HolidayEntry(Strict):
    date: dt.date
    name: str = ""


Holiday = Annotated[HolidayEntry, BeforeValidator(_bare_date)]


class HolidaysFile(Strict):
    add: list[Holiday] = []
    remove: list[Holiday] = []


# --------------------------------------------------------------------------- emergency.yaml
class EmergencyRule(Strict):
    kind: Text
    reply: Literal["general", "disaster", "violence", "self_harm"] = "general"
    private: bool = False
    phrases: Phrases = Field(min_length=1)
    except_: Phrases = Field(default=[], alias="except")
    unless: Phrases = []
    near: Phrases = []
    before: bool = False
    window: PositiveInt = 6
    alone: bool = False


class EmergencyFile(BaseModel):
    # Extra top-level keys hold the phrase lists anchored for the rules (``past: &past [...]``).
    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)
    __pydantic_extra__: dict[str, Phrases]

    numbers: dict[str, Annotated[str, StringConstraints(pattern=r"^[0-9][0-9 a-z]*$")]]
    repeat_after_seconds: NonNegativeInt = 600
    typo_min_length: PositiveInt = 8
    not_typos: list[str] = []
    spellings: dict[str, str] = {}
    filler: Phrases = []
    rules: list[EmergencyRule] = Field(min_length=1)


# ------------------------------------------------------------- conversation.yaml, ratelimit.yaml
class ConversationFile(Strict):
    min_description_length: NonNegativeInt = 15
    idle_reminder_seconds: PositiveInt = 3600
    idle_expiry_seconds: PositiveInt = 21600
    notify_on_expiry: bool = True
    append_window_days: NonNegativeInt = 30
    ask_privacy: bool = True
    max_buttons: dict[Literal["numbered", "keyboard", "list"], PositiveInt] = {}
    button_title_max: PositiveInt = 24
    typo_min_length: PositiveInt = 4
    typo_exempt: list[str] = []
    keywords: dict[str, list[str]] = {}
    languages: dict[Language, list[str]] = {}
    other_category: Code = "lainnya"
    other_category_words: list[str] = []
    fields: dict[Literal["description", "location", "category", "privacy"], list[str]] = {}
    privacy_words: dict[Literal["public", "anonymous", "confidential"], list[str]] = {}
    shorthand: dict[str, str] = {}
    location: Open = {}
    rating_comment_hours: NonNegativeInt = 24


class RateLimitFile(Strict):
    throttled: dict[Language, Text]


# --------------------------------------------------------------------------- supporters.yaml
class DuplicateSettings(Strict):
    days: PositiveInt = 30
    distance_meters: Annotated[float, Field(ge=0)] = 300
    min_similarity: Annotated[float, Field(ge=0, le=1)] = 0.3
    max_candidates: PositiveInt = 3


class SupportersFile(Strict):
    """ "Ikut melapor" (issue 20): likely duplicates, IKUT/JOIN limits, the inbox rise."""

    duplicates: DuplicateSettings = DuplicateSettings()
    join_per_day: NonNegativeInt = 5
    rise_threshold: NonNegativeInt = 3
    follow_link_days: Annotated[float, Field(gt=0)] = 7


#: Files read through a model; every other file in the config folder is only parsed.
# --------------------------------------------------------------------------- areas.yaml
_AREA_CODE = r"^\d{2}(\.\d{2}){1,2}(\.\d{4})?$"


class Kelurahan(Strict):
    code: Annotated[str, Field(pattern=_AREA_CODE)]
    name: str
    aliases: list[str] = []


class Kecamatan(Strict):
    code: Annotated[str, Field(pattern=_AREA_CODE)]
    name: str
    aliases: list[str] = []
    kelurahan: list[Kelurahan] = []


class AreasFile(Strict):
    """The deploying city's kecamatan and kelurahan with their Kemendagri codes (config/areas.yaml)."""

    city: str
    code: Annotated[str, Field(pattern=_AREA_CODE)]
    kecamatan: list[Kecamatan]


MODELS: dict[str, type[BaseModel]] = {
    "agencies.yaml": AgenciesFile,
    "categories.yaml": CategoriesFile,
    "lifecycle.yaml": LifecycleFile,
    "holidays.yaml": HolidaysFile,
    "emergency.yaml": EmergencyFile,
    "conversation.yaml": ConversationFile,
    "ratelimit.yaml": RateLimitFile,
    "routing.yaml": RoutingFile,
    "areas.yaml": AreasFile,
    "supporters.yaml": SupportersFile,
}


def validate_document(name: str, document: Document) -> Any:
    """``document`` as the model of ``name``; ConfigError naming file, line and key otherwise."""
    model = MODELS[name]
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(_problems(model, document, exc)) from None


def _problems(model: type[BaseModel], document: Document, exc: ValidationError) -> list[Problem]:
    vocabulary = sorted(_field_names(model))
    located = [(_data_path(document.data, e["loc"], e["type"]), e) for e in exc.errors()]
    out: list[Problem] = []
    seen: set[tuple[str, int | None]] = set()
    for loc, error in located:
        if error["type"].endswith("_type") and any(
            other is not error and other_loc[: len(loc)] == loc and not other["type"].endswith("_type")
            for other_loc, other in located
        ):
            continue  # the union branch the value was not meant for
        key = dotted(loc)
        line = document.line(loc)
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            close = difflib.get_close_matches(str(loc[-1]), vocabulary, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            else:
                message += " (mis-indented, or misspelled?)"
        else:
            message = _message(error)
        if (key, line) in seen:  # a union reports each failed branch: say it once
            continue
        seen.add((key, line))
        out.append(Problem(str(document.path), message, key=key, line=line))
    return out


def _data_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[str | int, ...]:
    """pydantic's error location in the data: the union-branch labels it adds (``str``,
    ``dict[...]``, ``function-after[...]``) dropped, a missing key kept as the last part."""
    path: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and str(part) in {str(k) for k in node}:
            match = next(k for k in node if str(k) == str(part))
            node = node[match]
            path.append(str(part))
        elif kind == "missing" and position == len(loc) - 1:
            path.append(part)
    return tuple(path)


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "required key is missing"
    value = error.get("input")
    if isinstance(value, bool) and error["type"].endswith("_type"):
        # YAML 1.1 reads no/yes/on/off/y/n as true/false: "no" in a word list becomes False.
        return f"{str(value).lower()} is a yes/no value to YAML, not text: put the word in quotes"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "literal_error":
        message = f"must be one of {error.get('ctx', {}).get('expected', '')}"
    elif error["type"] == "string_pattern_mismatch":
        message = "has characters that are not allowed here"
    elif "date" in error["type"]:
        message = "is not a date (YYYY-MM-DD)"
    else:
        message = message[:1].lower() + message[1:]
    shown = repr(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    return f"{shown} {message}" if shown and shown not in message else message


def dotted(path: tuple[str | int, ...]) -> str:
    """``("agencies", 2, "categoris")`` -> ``agencies[2].categoris``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every key any model reachable from ``model`` knows, for "did you mean"."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for candidate in _models_in(info.annotation):
            names |= _field_names(candidate, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]
