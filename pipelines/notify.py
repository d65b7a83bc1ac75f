"""Post alerts to a webhook (Slack incoming webhooks and anything that takes a JSON POST): I/O only.

The URL holds a secret (a Slack webhook's path is its credential), so it is never printed, logged or put
in an error: its value is registered for redaction, and urllib3's debug lines (which name the path) are
held back while posting. 429 is retried after its Retry-After (capped), 5xx and connection failures with
a bounded exponential backoff; any other answer fails at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from pipelines.errors import WebhookFailed
from pipelines.logs import redact
from pipelines.sources.dremio_api import retry_after_seconds

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_WAIT_SECONDS = 30.0  # the longest one Retry-After or backoff is honoured
FIRST_BACKOFF_SECONDS = 1.0


@contextmanager
def _quiet_urllib3() -> Iterator[None]:
    """urllib3 logs each request's path at DEBUG: the path of a webhook is its secret."""
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        logger.setLevel(level)


def post_json(
    url: str,
    payload: dict[str, Any],
    attempts: int | None = None,
    max_wait: float | None = None,
    first_backoff: float | None = None,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST `payload` as JSON until a 2xx answer; returns the attempts it took. Raises WebhookFailed.

    Limits left out are this module's constants, read when called.
    """
    attempts = MAX_ATTEMPTS if attempts is None else attempts
    max_wait = MAX_WAIT_SECONDS if max_wait is None else max_wait
    first_backoff = FIRST_BACKOFF_SECONDS if first_backoff is None else first_backoff
    problem = "no attempt made"
    with _quiet_urllib3(), requests.Session() as session:
        for attempt in range(1, attempts + 1):
            wait = min(max_wait, first_backoff * 2 ** (attempt - 1))
            try:
                response = session.post(url, json=payload, timeout=timeout)
            except requests.RequestException as error:  # its text names the URL: never shown
                problem = f"{type(error).__name__} (no answer)"
            else:
                if 200 <= response.status_code < 300:
                    return attempt
                problem = f"HTTP {response.status_code}: {redact(response.text[:200].strip()) or response.reason}"
                if response.status_code == 429:
                    asked = retry_after_seconds(response.headers.get("Retry-After"))
                    wait = min(max_wait, wait if asked is None else asked)
                elif response.status_code < 500:
                    raise WebhookFailed(f"the alert webhook refused the post ({problem}); not retried")
            if attempt < attempts:
                log.warning(
                    "alert webhook attempt %d of %d failed (%s): retrying in %.1fs", attempt, attempts, problem, wait
                )
                sleep(wait)
    raise WebhookFailed(f"the alert webhook failed {attempts} times, the last with {problem}")
