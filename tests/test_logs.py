"""Structured logs: one JSON object per line (or a readable line), quiet by default, secrets never shown."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from pipelines.bronze.ingest_log import FAILED, LogEntry
from pipelines.incremental import date_ranges
from pipelines.logs import PROGRESS_LOGGER, configure_logging, fields, progress, redact

TOKEN = "dapi-0123456789abcdef"


@pytest.fixture
def restore_levels() -> Iterator[None]:
    names = ("", "pipelines", PROGRESS_LOGGER)
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_json_lines_carry_level_logger_message_and_fields_with_secrets_redacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, restore_levels: None
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    configure_logging(log_format="json")
    progress("legacy_csv: 3 files, 1 new or changed, 2 unchanged", source="legacy_csv", files=3, changed=1)
    logging.getLogger("pipelines.sources").warning("token %s refused by ana.silva@example.com", TOKEN)
    logging.getLogger("pipelines.incremental").info("a decision nobody asked to see")
    logging.getLogger("pipelines.x").error("request failed", extra=fields(url=f"https://h/?token={TOKEN}"))

    lines = _lines(capsys.readouterr().err)
    assert [(line["level"], line["logger"]) for line in lines] == [
        ("info", PROGRESS_LOGGER),
        ("warning", "pipelines.sources"),
        ("error", "pipelines.x"),
    ]  # quiet by default: progress, warnings and errors, no decisions
    assert lines[0]["files"] == 3 and lines[0]["changed"] == 1 and lines[0]["source"] == "legacy_csv"
    assert lines[0]["time"].endswith("+00:00")
    assert lines[1]["message"] == "token *** refused by a***@example.com"
    assert lines[2]["url"] == "https://h/?token=***"


def test_verbose_shows_decisions_and_quiet_hides_progress(
    capsys: pytest.CaptureFixture[str], restore_levels: None
) -> None:
    configure_logging(verbosity=1, log_format="text")
    logging.getLogger("pipelines.incremental").info("recomputing gold.cost usage dates 2024-02-01..2024-02-29")
    logging.getLogger("py4j").info("not about this pipeline")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith(" info recomputing gold.cost usage dates 2024-02-01..2024-02-29")

    configure_logging(quiet=True, log_format="text")
    progress("hidden")
    logging.getLogger("pipelines.incremental").info("hidden too")
    logging.getLogger("pipelines.bronze").warning("rejected notes.csv")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith(" warning rejected notes.csv")
    assert len([h for h in logging.getLogger().handlers if type(h).__name__ == "_StderrHandler"]) == 1


def test_a_failure_logged_with_its_traceback_stays_one_json_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, restore_levels: None
) -> None:
    monkeypatch.setenv("DREMIO_TOKEN", TOKEN)
    configure_logging(log_format="json")
    try:
        raise RuntimeError(f"Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logging.getLogger("pipelines.sources").exception("fetch failed")
    (line,) = _lines(capsys.readouterr().err)
    assert line["message"] == "fetch failed" and "RuntimeError: Authorization: Bearer ***" in line["error"]
    assert TOKEN not in json.dumps(line)


def test_dates_are_folded_into_ranges_for_reading() -> None:
    from datetime import date, timedelta

    march = [date(2024, 3, 1) + timedelta(days=n) for n in range(31)]
    assert date_ranges([*march, date(2024, 4, 2), date(2024, 4, 4), date(2024, 4, 5)]) == (
        "2024-03-01..2024-03-31, 2024-04-02, 2024-04-04..2024-04-05"
    )
    assert date_ranges([]) == "none"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Authorization: Bearer dapi0123456789abcdef0123456789abcdef", "Authorization: Bearer ***"),
        ("a token dapi0123456789abcdef0123456789abcdef-2 in text", "a token *** in text"),
        ("GET http://ana:pa55word@accounts.example.com/x", "GET http://***@accounts.example.com/x"),
        ('{"client_secret": "dose0123456789abcdef"}', '{"client_secret": "***"}'),
        ("https://h/?access_token=abc123xyz&page=2", "https://h/?access_token=***&page=2"),
        ("DATABRICKS_PASSWORD=hunter22 password: hunter22", "DATABRICKS_PASSWORD=*** password: ***"),
        ("{'password': 'correct horse'}", "{'password': '***'}"),
        ("invalid token ab12cd34ef56gh78 for someone@example.com", "invalid token *** for s***@example.com"),
    ],
)
def test_token_like_values_are_redacted_whatever_variable_they_came_from(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = (
        "check the token variable DREMIO_TOKEN; sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )
    assert redact(text) == text
    prose = "no Dremio token: set the environment variable DREMIO_TOKEN; refresh token: expired"
    assert redact(prose) == prose


def test_an_ingest_log_error_is_redacted_before_it_is_written_or_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREMIO_TOKEN", TOKEN)
    error = f"HTTP 500: token {TOKEN} of ana.silva@example.com expired"
    entry = LogEntry("dremio", "dremio:w", "https://h/v0/usage", 0, 0, None, FAILED, error=error)
    assert entry.error == "HTTP 500: token *** of a***@example.com expired"
