"""Logging hygiene: e-mail addresses (cluster owners, run-as users) never reach logs unmasked."""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_emails(text: str) -> str:
    """`ana.silva@example.com` -> `a***@example.com`."""
    return _EMAIL.sub(r"\1***@\2", text)


class EmailMaskingFilter(logging.Filter):
    """Masks e-mail addresses in every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_emails(record.getMessage())
        record.args = None
        return True


def install_email_masking() -> None:
    """Attach the filter to the root handlers (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, EmailMaskingFilter) for f in handler.filters):
            handler.addFilter(EmailMaskingFilter())
