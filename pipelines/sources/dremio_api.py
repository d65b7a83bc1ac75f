"""A small client for the Dremio Cloud usage API (`GET /v0/usage`): page tokens, filter windows, bounded retries.

No published Python client covers this endpoint. This one asks for one time window at a time, follows
`nextPageToken` until it is empty, and checks every page against the documented shape: a page that is
not JSON, or holds fields the API does not document, stops the fetch with a clear error. DCU amounts
are kept as the text of their JSON numbers, so they are never read through a float.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.logs import install_redaction, redact, register_secret_variable

log = logging.getLogger(__name__)

RETRIED_STATUSES = (429, 502, 503, 504)  # throttled, or a gateway that will likely answer next time
USAGE_FIELDS = ("id", "type", "startTime", "endTime", "usage")
PAGE_FIELDS = ("data", "nextPageToken", "previousPageToken")
MAX_BACKOFF_SECONDS = 30.0
_MESSAGE_LIMIT = 300


class Number(str):
    """A JSON number kept as the exact text it was sent as."""


@dataclass(frozen=True)
class UsageWindow:
    """Usage whose start time is in [start, end), both UTC; the API serves at most 90 days per request."""

    start: datetime
    end: datetime

    def filter_expression(self) -> str:
        return f"start_time >= {_epoch_ms(self.start)} && start_time < {_epoch_ms(self.end)}"

    def __str__(self) -> str:
        return f"{_iso(self.start)}/{_iso(self.end)}"


@dataclass
class FetchedWindow:
    """Every usage object of one window, with what it took to get them."""

    window: UsageWindow
    url: str  # the request without its page token (and never with credentials)
    objects: list[dict[str, Any]] = field(default_factory=list)
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    pages: int = 0
    size: int = 0
    sha256: str = ""


def _epoch_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)  # HTTP dates are in GMT
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _server_message(response: requests.Response) -> str:
    """The error message the server sent (Dremio uses `errorMessage`), shortened and redacted."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for name in ("errorMessage", "message", "error"):
            if isinstance(body.get(name), str):
                text = body[name]
                break
    return redact(text[:_MESSAGE_LIMIT]) or response.reason or "no message"


class DremioUsageClient:
    """Fetches usage windows from one Dremio Cloud organization with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        token_variable: str = "DREMIO_TOKEN",
        page_size: int = 100,
        max_pages: int = 1000,
        retry_seconds: float = 300.0,
        request_timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        register_secret_variable(token_variable)
        install_redaction()
        self.base_url = base_url.rstrip("/")
        self.token_variable = token_variable
        self.page_size, self.max_pages = page_size, max_pages
        self.retry_seconds, self.request_timeout = retry_seconds, request_timeout
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def close(self) -> None:
        self._session.close()

    def fetch(self, window: UsageWindow, frequency: str, group_by: str) -> FetchedWindow:
        """All usage objects of one window, following page tokens to the end.

        Raises SourceApiError for an error answer, a page that is not the documented JSON, a page
        token that comes back again (the API would be looping), or more than `max_pages` pages.
        Retries of all the window's requests share one budget of `retry_seconds`.
        """
        deadline = time.monotonic() + self.retry_seconds
        params = {
            "maxResults": str(self.page_size),
            "filter": window.filter_expression(),
            "frequency": frequency,
            "groupBy": group_by,
        }
        fetched = FetchedWindow(window, f"{self.base_url}/v0/usage?{urlencode(params)}")
        digest = hashlib.sha256()
        seen: set[str] = set()
        token: str | None = None
        while True:
            body = self._get({**params, "pageToken": token} if token else params, window, deadline)
            digest.update(body)
            fetched.pages += 1
            fetched.size += len(body)
            page = self._parse_page(body, window, fetched.pages)
            fetched.objects.extend(page["data"])
            next_token = page.get("nextPageToken")
            log.debug("window %s page %d: %d objects", window, fetched.pages, len(page["data"]))
            if not next_token:  # absent, null or "" all mean the last page
                break
            if next_token in seen:
                raise SourceApiError(
                    f"Dremio usage API sent page token {next_token[:40]!r} again for window {window} "
                    f"(page {fetched.pages}): stopping instead of fetching the same pages forever"
                )
            if fetched.pages >= self.max_pages:
                raise SourceApiError(
                    f"Dremio usage API window {window} has more than {self.max_pages} pages: "
                    "raise sources.dremio.max_pages or sources.dremio.page_size"
                )
            seen.add(next_token)
            token = next_token
        fetched.sha256 = digest.hexdigest()
        return fetched

    def _get(self, params: dict[str, str], window: UsageWindow, deadline: float) -> bytes:
        """One page, retrying 429/503 and connection failures with backoff until the window's deadline.

        The wait is the server's Retry-After when it asks for longer than the backoff, else the backoff,
        so `Retry-After: 0` never turns into a tight loop.
        """
        url = f"{self.base_url}/v0/usage"
        attempt = 0
        while True:
            attempt += 1
            problem: str
            wait: float | None = None
            try:
                response = self._session.get(url, params=params, timeout=self.request_timeout)
            except requests.RequestException as error:
                problem = f"could not reach {self.base_url}: {type(error).__name__}"
            else:
                if response.status_code == 200:
                    return response.content
                self._raise_unless_retried(response, window)
                problem = f"HTTP {response.status_code}: {_server_message(response)}"
                wait = retry_after_seconds(response.headers.get("Retry-After"))
            backoff = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (attempt - 1)) * random.uniform(1.0, 1.25)
            wait = backoff if wait is None else max(wait, backoff)
            if time.monotonic() + wait > deadline:
                raise SourceApiError(
                    f"Dremio usage API gave up on window {window} after {attempt} attempts for one page "
                    f"(retry budget {self.retry_seconds:.0f}s per window, sources.dremio.timeout_seconds): {problem}"
                )
            log.info("Dremio usage API %s; retrying in %.1fs (attempt %d)", problem, wait, attempt)
            self._sleep(wait)

    def _raise_unless_retried(self, response: requests.Response, window: UsageWindow) -> None:
        status = response.status_code
        if status in RETRIED_STATUSES:
            return
        if status in (401, 403):
            what = "rejected the token" if status == 401 else "denied access with the token"
            raise CredentialsRejected(
                f"Dremio usage API {what} (HTTP {status}): check the personal access token in the environment "
                f"variable {self.token_variable}; it must belong to a user who may read the organization's usage"
            )
        if status in (400, 404):
            raise SourceApiError(
                f"Dremio usage API rejected the request for window {window} (HTTP {status}): "
                f"{_server_message(response)}"
            )
        message = _server_message(response)
        raise SourceApiError(f"Dremio usage API failed for window {window} (HTTP {status}): {message}")

    @staticmethod
    def _parse_page(body: bytes, window: UsageWindow, number: int) -> dict[str, Any]:
        """A page as documented: {"data": [usage objects], "nextPageToken": ..., "previousPageToken": ...}."""
        where = f"window {window} page {number}"
        try:
            page = json.loads(body.decode("utf-8"), parse_float=Number, parse_int=Number)
        except (UnicodeDecodeError, ValueError) as error:
            raise SourceApiError(f"Dremio usage API sent malformed JSON for {where}: {error}") from None
        if not isinstance(page, dict):
            raise SourceApiError(f"Dremio usage API sent a {type(page).__name__} for {where}, not a usages object")
        unexpected = sorted(set(page) - set(PAGE_FIELDS))
        if unexpected:
            raise SourceApiError(f"Dremio usage API sent undocumented field(s) {unexpected} in {where}")
        if not isinstance(page.get("data"), list):
            raise SourceApiError(f"Dremio usage API sent no `data` array in {where}")
        for name in ("nextPageToken", "previousPageToken"):
            if page.get(name) is not None and not isinstance(page[name], str):
                raise SourceApiError(f"Dremio usage API sent a non-text {name} in {where}")
        for item in page["data"]:
            if not isinstance(item, dict):
                raise SourceApiError(f"Dremio usage API sent a {type(item).__name__} in `data` of {where}")
            extra = sorted(set(item) - set(USAGE_FIELDS))
            if extra:
                raise SourceApiError(f"Dremio usage API sent undocumented usage field(s) {extra} in {where}")
        return page
