"""Logging hygiene: secrets never reach logs or error messages, and e-mail addresses are masked.

Secrets come from environment variables only. Every variable this package or the Databricks SDK
reads a credential from is listed here, so their values are redacted wherever text is shown.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Credentials that can appear in text whatever variable (if any) they came from: the user and password of
# a URL, the value after an auth scheme or a `token=`-like key, and well-known token formats.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")
_CREDENTIAL_KEY = r"(?i)\b([\w-]*(?:token|secret|password|passwd|api_?key|access_?key))"
_TOKEN_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2***"),
    (re.compile(r"(?i)\b(token)(\s+)(?=[^\s]*\d)[A-Za-z0-9._~+/=-]{12,}"), r"\1\2***"),  # not "token variable"
    (re.compile(_CREDENTIAL_KEY + r"(\s*=\s*[\"']?)[^\s\"'&,;}]{4,}"), r"\1\2***"),  # key=value
    (re.compile(_CREDENTIAL_KEY + r"([\"']\s*:\s*[\"'])[^\"']{4,}"), r"\1\2***"),  # "key": "value"
    (re.compile(_CREDENTIAL_KEY + r"(\s*:\s*)(?=[^\s,;]*\d)[^\s\"'&,;}]{4,}"), r"\1\2***"),  # key: v4lue, not prose
    (re.compile(r"\b(?:dapi|dose|dkea|dsapi)[0-9a-zA-Z]{16,}(?:-\d+)?\b"), "***"),  # Databricks tokens, secrets
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"), "***"),  # JSON web tokens (OAuth access tokens)
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "***"),  # AWS access key ids
)
SECRET_VARIABLES = {
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_PASSWORD",
    "DATABRICKS_AZURE_CLIENT_SECRET",
    "ARM_CLIENT_SECRET",
    "DREMIO_TOKEN",
}
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary text


def register_secret_variable(name: str) -> None:
    """Treat the value of one more environment variable (for example a configured token variable) as secret."""
    SECRET_VARIABLES.add(name)


def _secrets() -> list[str]:
    values = (os.environ.get(name, "").strip() for name in SECRET_VARIABLES)
    return sorted({v for v in values if len(v) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)


def mask_emails(text: str) -> str:
    """`ana.silva@example.com` -> `a***@example.com`."""
    return _EMAIL.sub(r"\1***@\2", text)


def redact_tokens(text: str) -> str:
    """Token-like values replaced by `***`: URL credentials, auth headers, `token=...`, known token formats."""
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    for pattern, replacement in _TOKEN_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(text: str) -> str:
    """Secret values of credential variables and token-like values replaced by `***`, e-mail addresses masked.

    Every message that is printed, logged or written to a table (the ingest log's `error`) goes through this.
    """
    for secret in _secrets():
        text = text.replace(secret, "***")
    return mask_emails(redact_tokens(text))


def _redact_record(record: logging.LogRecord) -> None:
    record.msg = redact(record.getMessage())
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None


class RedactingFilter(logging.Filter):
    """Redacts secrets and masks e-mail addresses in every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


_installed = False


def install_redaction() -> None:
    """Redact every log record of this process as it is created, whoever logs it and whatever handles it.

    Libraries log too (the Databricks SDK logs response bodies at DEBUG level), so redacting only our
    own messages is not enough. Called by the CLI and whenever an API client is created; idempotent.
    """
    global _installed
    if _installed:
        return
    create = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = create(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(redacted_record)
    _installed = True


# Progress of long steps (files, rows, pages, tables) goes to this logger: shown unless --quiet.
PROGRESS_LOGGER = "pipelines.progress"
LOG_FORMATS = ("auto", "json", "text")
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call: named values that structured logs carry as their own keys."""
    return {"fields": values}


def progress(message: str, **values: Any) -> None:
    """One line of progress for a long step, with its counts as structured fields."""
    logging.getLogger(PROGRESS_LOGGER).info(message, extra=fields(**values))


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    values = dict(getattr(record, "fields", {}) or {})
    values.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES and k != "fields"})
    return {key: redact(value) if isinstance(value, str) else value for key, value in values.items()}


def _error_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        return redact(logging.Formatter().formatException(record.exc_info))
    return record.exc_text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        entry.update({k: v for k, v in _record_fields(record).items() if k not in entry})
        error = _error_text(record)
        if error:
            entry["error"] = error
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`HH:MM:SS level message` for a person at a terminal (the message says what the fields hold)."""

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        level = "" if record.name == PROGRESS_LOGGER else f"{record.levelname.lower()} "
        line = f"{clock} {level}{redact(record.getMessage())}"
        error = _error_text(record)
        return f"{line}\n{error}" if error else line


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (notebooks and test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _: IO[str]) -> None:
        pass


def configure_logging(verbosity: int = 0, quiet: bool = False, log_format: str = "auto") -> None:
    """Logs on stderr: warnings and progress by default; `-v` adds each decision, `-vv` debug detail.

    `json` writes one object per line (for job logs and log search), `text` a readable line;
    `auto` picks text on a terminal and JSON otherwise. Redaction is installed first. Calling it
    again replaces the handler it installed before and leaves other handlers alone.
    """
    install_redaction()
    if log_format == "auto":
        log_format = "text" if sys.stderr.isatty() else "json"
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    logging.getLogger("pipelines").setLevel(
        logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity else logging.WARNING
    )
    logging.getLogger(PROGRESS_LOGGER).setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("py4j", "urllib3"):  # their debug lines are not about this pipeline
        logging.getLogger(noisy).setLevel(logging.INFO if verbosity >= 2 else logging.WARNING)
