"""Logging hygiene: secrets never reach logs or error messages, and e-mail addresses are masked.

Secrets come from environment variables only. Every variable this package or the Databricks SDK
reads a credential from is listed here, so their values are redacted wherever text is shown.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
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


def redact(text: str) -> str:
    """Secret values replaced by `***`, then e-mail addresses masked."""
    for secret in _secrets():
        text = text.replace(secret, "***")
    return mask_emails(text)


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
