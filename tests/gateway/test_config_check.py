"""`lapor-gateway config check` over a table of deployer slips that used to start "ready".

Each case copies one shipped file into a fresh LAPOR_CONFIG_DIR with one edit, runs the
real command, and asserts the exit status and the one line naming file, line and key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.loader import SHIPPED_DIR
from config.settings import CHANNEL_CREDENTIALS
from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]

#: Variables the check reads, cleared so the developer's own environment does not leak in.
CLEARED = sorted(
    {name for names in CHANNEL_CREDENTIALS.values() for name in names}
    | {"SMS_PROFILE", "LAPOR_PROXY_COUNT", "PUBLIC_BASE_URL", "TWILIO_SMS_FROM", "TWILIO_WHATSAPP_FROM"}
    | {"LAPOR_DB_POOL_SIZE", "LAPOR_DB_MAX_OVERFLOW", "LAPOR_DB_PREPARE_THRESHOLD"}
)


@dataclass(frozen=True)
class Slip:
    """One edit of one shipped file (or of the environment), and the line it must produce."""

    name: str
    file: str = ""
    old: str = ""
    new: str = ""
    env: dict[str, str] = field(default_factory=dict)
    expect: str = ""
    key: str = ""


SLIPS = [
    Slip(
        "mis-indented YAML",
        "messages/id.yaml",
        '  location: "Di mana lokasinya?',
        '   location: "Di mana lokasinya?',
        expect="not valid YAML",
    ),
    Slip(
        "a text key indented out of its group",
        "messages/id.yaml",
        '  reply_number: "Balas dengan angka."',
        'reply_number: "Balas dengan angka."',
        expect="unknown text key (mis-indented, or misspelled?)",
        key="reply_number",
    ),
    Slip(
        "agency lists a category that does not exist",
        "agencies.yaml",
        "categories: [sampah, pencemaran, taman]",
        "categories: [sampah, pencemaran, tamann]",
        expect="category 'tamann' does not exist in categories.yaml",
        key="agencies[5].categories[2]",
    ),
    Slip(
        "categoris: for categories:",
        "agencies.yaml",
        "    categories: [kesehatan]",
        "    categoris: [kesehatan]",
        expect="unknown key (did you mean 'categories'?)",
        key="agencies[7].categoris",
    ),
    Slip(
        "kode: for code:",
        "categories.yaml",
        "  - code: parkir",
        "  - kode: parkir",
        expect="unknown key (did you mean 'code'?)",
        key="categories[9].kode",
    ),
    Slip(
        "a keyword YAML reads as false",
        "categories.yaml",
        "keywords: [parkir, jukir, parkir liar, juru parkir,",
        "keywords: [parkir, jukir, no, juru parkir,",
        expect="false is a yes/no value to YAML, not text: put the word in quotes",
        key="categories[9].keywords[2]",
    ),
    Slip(
        "a kecamatan code with a missing dot",
        "areas.yaml",
        '- code: "32.73.01"',
        '- code: "32.7301"',
        expect="'32.7301' has characters that are not allowed here",
        key="kecamatan[0].code",
    ),
    Slip(
        "a holiday on month 20",
        "holidays.yaml",
        "date: 2026-08-20",
        "date: 2026-20-08",
        expect="'2026-20-08' is not a date (YYYY-MM-DD)",
        key="add[0].date",
    ),
    Slip(
        "a misspelled time zone",
        "lifecycle.yaml",
        "timezone: Asia/Jakarta",
        "timezone: Asia/Jakata",
        expect="'Asia/Jakata' is not a time zone",
        key="timezone",
    ),
    Slip(
        "a renamed placeholder in a citizen's text",
        "messages/id.yaml",
        "(minimal {min} huruf)",
        "(minimal {minimum} huruf)",
        expect="placeholder {minimum} is never filled in (this text has: {min})",
        key="ask.description_more",
    ),
    Slip(
        "a renamed placeholder in the English text",
        "messages/en.yaml",
        "{min}",
        "{minimum}",
        expect="placeholder {minimum} is never filled in",
        key="ask.description_more",
    ),
    Slip(
        "an emergency rule with a misspelled reply",
        "emergency.yaml",
        "reply: self_harm",
        "reply: selfharm",
        expect="must be one of",
        key="rules[0].reply",
    ),
    Slip(
        "a mistyped SMS profile",
        env={"SMS_PROFILE": "infobp"},
        expect="'infobp': must be one of",
        key="SMS_PROFILE",
    ),
    Slip(
        "a proxy count in words",
        env={"LAPOR_PROXY_COUNT": "one"},
        expect="'one': Input should be a valid integer",
        key="LAPOR_PROXY_COUNT",
    ),
    Slip(
        "a database pool of no connections",
        env={"LAPOR_DB_POOL_SIZE": "0"},
        expect="'0': Input should be greater than or equal to 1",
        key="LAPOR_DB_POOL_SIZE",
    ),
    Slip(
        "a prepare threshold that is neither a count nor off",
        env={"LAPOR_DB_PREPARE_THRESHOLD": "never"},
        expect="'never': String should match pattern",
        key="LAPOR_DB_PREPARE_THRESHOLD",
    ),
    Slip(
        "a bot token without its webhook secret",
        env={"TELEGRAM_BOT_TOKEN": "123:abc"},
        expect="TELEGRAM_WEBHOOK_SECRET is not",
        key="TELEGRAM_BOT_TOKEN",
    ),
    Slip(
        "WhatsApp with half its credentials",
        env={"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1"},
        expect="WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN is not",
        key="WHATSAPP_ACCESS_TOKEN",
    ),
]


def _slip(name: str) -> Slip:
    return next(s for s in SLIPS if s.name == name)


def _config_dir(tmp_path: Path, slip: Slip) -> tuple[Path, int | None]:
    """A LAPOR_CONFIG_DIR holding the edited file; the line of the edit (1-based)."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    if not slip.file:
        return folder, None
    text = (SHIPPED_DIR / slip.file).read_text(encoding="utf-8")
    assert slip.old in text, f"the shipped {slip.file} changed: update the case"
    edited = text.replace(slip.old, slip.new, 1)
    target = folder / slip.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(edited, encoding="utf-8")
    return folder, edited[: edited.index(slip.new)].count("\n") + 1


def _check(folder: Path, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    full: dict[str, str | None] = dict.fromkeys(CLEARED)
    full |= {"LAPOR_CONFIG_DIR": str(folder), "LAPOR_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    result = CliRunner().invoke(main, ["config", "check", "--quiet"], env=full)
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.output.splitlines()


def test_the_shipped_config_passes(tmp_path: Path) -> None:
    code, lines = _check(tmp_path, tmp_path)
    assert code == 0, lines


@pytest.mark.parametrize("slip", SLIPS, ids=[s.name for s in SLIPS])
def test_each_slip_is_one_error_line_naming_file_line_and_key(slip: Slip, tmp_path: Path) -> None:
    folder, line = _config_dir(tmp_path, slip)
    code, lines = _check(folder, tmp_path, slip.env)
    assert code == 1, lines
    matching = [text for text in lines if slip.expect in text]
    assert len(matching) == 1, lines
    found = matching[0]
    if slip.file:
        assert found.startswith(f"{folder / slip.file}:{line}: error: "), found
    else:
        assert found.startswith("environment: error: "), found
    if slip.key:
        assert f": {slip.key}: " in found, found


def test_warnings_do_not_fail_the_check(tmp_path: Path) -> None:
    """An unused category and channels left off are warnings: exit 0, and said."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    text = (SHIPPED_DIR / "agencies.yaml").read_text(encoding="utf-8")
    (folder / "agencies.yaml").write_text(
        text.replace("categories: [bansos]", "categories: []"), encoding="utf-8"
    )
    full: dict[str, str | None] = dict.fromkeys(CLEARED)
    full |= {"LAPOR_CONFIG_DIR": str(folder), "LAPOR_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, ["config", "check"], env=full)
    assert result.exit_code == 0, result.output
    assert "warning: categories[12].code: category 'bansos' is handled by no agency" in result.output
    assert "environment: warning: channel telegram is off" in result.output


def test_the_runtime_reads_the_catalog_through_the_same_models(tmp_path: Path) -> None:
    """The loader is the check: the catalog refuses what `config check` refuses, with the same line."""
    from config.problems import ConfigError
    from gateway.tickets.catalog import Catalog

    slip = _slip("categoris: for categories:")
    folder, line = _config_dir(tmp_path, slip)
    with pytest.raises(ConfigError) as caught:
        Catalog.load({"LAPOR_CONFIG_DIR": str(folder)})
    assert f"agencies.yaml:{line}: error: agencies[7].categoris: unknown key" in str(caught.value)


@pytest.mark.parametrize("command", ["worker", "web"])
def test_web_and_worker_refuse_to_start_with_the_same_lines_and_no_traceback(
    command: str, tmp_path: Path
) -> None:
    folder, line = _config_dir(tmp_path, _slip("a misspelled time zone"))
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env |= {
        "LAPOR_CONFIG_DIR": str(folder),
        "LAPOR_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "k",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "LAPOR_PROXY_COUNT": "one",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", command, "--port", "1"]
        if command == "web"
        else [sys.executable, "-m", "gateway.cli", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"lifecycle.yaml:{line}: error: timezone: 'Asia/Jakata' is not a time zone" in done.stderr
    assert "environment: error: LAPOR_PROXY_COUNT: 'one'" in done.stderr
    assert f"lapor-gateway {command}: not starting, 2 configuration error(s)" in done.stderr


def test_web_and_worker_refuse_to_start_without_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and k != "SECRET_KEY"}
    env |= {"LAPOR_DATA_DIR": str(tmp_path / "data"), "REDIS_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "environment: error: SECRET_KEY: is not set" in done.stderr, done.stderr
    assert not (tmp_path / "data" / "secret_key").exists()  # nothing generated behind the deployer's back
