"""`lapor-gateway config check`: the config loader run once over everything a deployer edits.

Each file goes through the same path the gateway reads it by (`load_all`, which the
runtime's configuration snapshot is built from, for the files with a model), then the
checks that span files run: an agency naming a category that does not exist, a message
using a placeholder the code never fills, a channel with half its credentials. `web` and
`worker` run this at start and refuse to start on an error, so a slip is caught at deploy
time instead of by a citizen whose SMS is never answered.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from typing import Any

from config.loader import SHIPPED_DIR, Document, config_dirs, find_config_file, load_document, read_document
from config.problems import WARNING, ConfigError, Problem
from config.schema import MODELS, AgenciesFile, CategoriesFile, ConversationFile, dotted, validate_document
from config.settings import environment_problems

#: Text catalogs, each checked against the shipped Indonesian one (the reference for keys and placeholders).
MESSAGE_FILES: dict[str, str] = {
    "messages/id.yaml": "messages/id.yaml",
    "messages/en.yaml": "messages/id.yaml",
    "messages/inbox_id.yaml": "messages/inbox_id.yaml",
    "messages/inbox_en.yaml": "messages/inbox_id.yaml",
    "messages/public_id.yaml": "messages/public_id.yaml",
    "messages/public_en.yaml": "messages/public_id.yaml",
    "messages/webform_id.yaml": "messages/webform_id.yaml",
    "messages/webform_en.yaml": "messages/webform_id.yaml",
}
#: Files a deployment may go without (the routing work ships routing.yaml).
OPTIONAL_FILES = frozenset({"routing.yaml", "areas.yaml"})
#: Files only parsed here (none at the moment; a new file without a model goes here first).
OTHER_FILES: tuple[str, ...] = ()


def load_all(
    env: Mapping[str, str], documents: dict[str, Document] | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """Every modelled file read and validated (as `load_model` does): the models that loaded,
    and the problems of the rest. ``documents``, when given, receives each parsed file.

    This is the one pass the runtime's configuration snapshot is built from
    (`config.files.read_config`), so a file this check accepts is a file the gateway and the
    dialogue read the same way.
    """
    models: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in MODELS:
        try:
            document = load_document(name, env)
            if documents is not None:
                documents[name] = document
            models[name] = validate_document(name, document)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except FileNotFoundError:
            if name not in OPTIONAL_FILES:
                problems.append(Problem(name, "file is missing (neither in LAPOR_CONFIG_DIR nor shipped)"))
    return models, problems


def check_config(env: Mapping[str, str]) -> list[Problem]:
    """Every problem in the configuration ``env`` points at, errors and warnings."""
    models, problems = load_all(env)
    for name, reference in MESSAGE_FILES.items():
        problems.extend(_check_messages(name, reference, env))
    for name in OTHER_FILES:
        problems.extend(_parse_only(name, env))
    problems.extend(_unknown_files(env))
    agencies, categories = models.get("agencies.yaml"), models.get("categories.yaml")
    if agencies is not None and categories is not None:
        problems.extend(_check_catalog(agencies, categories, env))
    conversation = models.get("conversation.yaml")
    if conversation is not None and categories is not None:
        problems.extend(_check_conversation(conversation, categories, env))
    problems.extend(environment_problems(env))
    return problems


# --------------------------------------------------------------------------- agencies and categories
def _check_catalog(
    agencies: AgenciesFile, categories: CategoriesFile, env: Mapping[str, str]
) -> Iterator[Problem]:
    agencies_doc = _document("agencies.yaml", env)
    categories_doc = _document("categories.yaml", env)
    category_codes: set[str] = set()
    for index, category in enumerate(categories.categories):
        if category.code in category_codes:
            yield _at(
                categories_doc, ("categories", index, "code"), f"category {category.code!r} is listed twice"
            )
        category_codes.add(category.code)
    agency_codes: set[str] = set()
    handled: set[str] = set()
    for index, agency in enumerate(agencies.agencies):
        if agency.code in agency_codes:
            yield _at(agencies_doc, ("agencies", index, "code"), f"agency {agency.code!r} is listed twice")
        agency_codes.add(agency.code)
        for position, code in enumerate(agency.categories):
            handled.add(code)
            if code not in category_codes:
                yield _at(
                    agencies_doc,
                    ("agencies", index, "categories", position),
                    f"category {code!r} does not exist in categories.yaml",
                )
    coordinators = [i for i, a in enumerate(agencies.agencies) if a.coordinator]
    if len(coordinators) > 1:
        for index in coordinators[1:]:
            yield _at(
                agencies_doc, ("agencies", index, "coordinator"), "only one agency can be the coordinator"
            )
    elif not coordinators:
        yield _at(
            agencies_doc,
            ("agencies",),
            f"no agency has coordinator: true; {agencies.agencies[0].code!r} coordinates",
            severity=WARNING,
        )
    for index, category in enumerate(categories.categories):
        for position, pattern in enumerate(category.patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                yield _at(
                    categories_doc,
                    ("categories", index, "patterns", position),
                    f"pattern does not compile ({exc}); routing ignores it",
                    severity=WARNING,
                )
        if category.code not in handled:
            yield _at(
                categories_doc,
                ("categories", index, "code"),
                f"category {category.code!r} is handled by no agency (its tickets stay with the coordinator)",
                severity=WARNING,
            )


def _check_conversation(
    conversation: ConversationFile, categories: CategoriesFile, env: Mapping[str, str]
) -> Iterator[Problem]:
    if conversation.other_category not in {c.code for c in categories.categories}:
        yield _at(
            _document("conversation.yaml", env),
            ("other_category",),
            f"category {conversation.other_category!r} does not exist in categories.yaml",
        )


# --------------------------------------------------------------------------- texts
_FORMATTER = string.Formatter()


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a text uses; ValueError for a stray brace."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in _FORMATTER.parse(text) if name}


def _check_messages(name: str, reference: str, env: Mapping[str, str]) -> Iterator[Problem]:
    try:
        document = _document(name, env)
    except FileNotFoundError:
        return
    except ConfigError as exc:
        yield from exc.problems
        return
    shipped = read_document(SHIPPED_DIR / reference).data
    for path, value in _leaves(document.data):
        expected = _lookup(shipped, path)
        if expected is None:
            yield _at(document, path, "unknown text key (mis-indented, or misspelled?)")
            continue
        if isinstance(expected, (dict, list)):
            yield _at(document, path, "must be a group of texts, as in the shipped file")
            continue
        try:
            used = placeholders(str(value))
        except ValueError as exc:
            yield _at(document, path, f"broken placeholder ({exc}); write {{{{ and }}}} for a brace")
            continue
        allowed = placeholders(str(expected))
        for unknown in sorted(used - allowed):
            known = ", ".join("{" + p + "}" for p in sorted(allowed)) or "none"
            yield _at(
                document, path, f"placeholder {{{unknown}}} is never filled in (this text has: {known})"
            )


def _leaves(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)))
    else:
        yield path, data


def _lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


# --------------------------------------------------------------------------- files
def _parse_only(name: str, env: Mapping[str, str]) -> Iterator[Problem]:
    try:
        _document(name, env)
    except FileNotFoundError:
        return
    except ConfigError as exc:
        yield from exc.problems


def _unknown_files(env: Mapping[str, str]) -> Iterator[Problem]:
    """Files in LAPOR_CONFIG_DIR the gateway never reads (``agency.yaml``): a warning each."""
    folders = config_dirs(env)
    if len(folders) < 2:
        return
    custom = folders[0]
    if not custom.is_dir():
        yield Problem(str(custom), "LAPOR_CONFIG_DIR is not a folder", key="LAPOR_CONFIG_DIR")
        return
    known = set(MODELS) | set(MESSAGE_FILES) | set(OTHER_FILES)
    for path in sorted(custom.rglob("*.y*ml")):
        relative = path.relative_to(custom).as_posix()
        if relative not in known:
            yield Problem(str(path), "the gateway does not read this file (misnamed?)", severity=WARNING)


def _document(name: str, env: Mapping[str, str]) -> Document:
    return read_document(find_config_file(name, env))


def _at(document: Document, path: tuple[str | int, ...], message: str, severity: str = "error") -> Problem:
    return Problem(str(document.path), message, key=dotted(path), line=document.line(path), severity=severity)
