"""The Dremio usage client against a real HTTP server: paging, retries, errors, exact amounts, windows."""

from __future__ import annotations

import itertools
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipelines.bronze.dremio_usage import plan_windows, sort_window, window_days
from pipelines.config import DremioSource
from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.sources.dremio_api import DremioUsageClient, FetchedWindow, Number, UsageWindow
from tests.api_servers import Answer, DremioUsage, Request, hourly, serve

TOKEN = "dremio-secret-token"
DAY = datetime(2024, 5, 1, tzinfo=UTC)
WINDOW = UsageWindow(DAY, DAY + timedelta(days=1))


def _client(url: str, **settings: float) -> DremioUsageClient:
    return DremioUsageClient(url, TOKEN, page_size=int(settings.pop("page_size", 5)), **settings)  # type: ignore[arg-type]


def _usage(hours: int = 6) -> list[dict[str, str]]:
    return hourly(["p-1", "p-2"], DAY, hours, lambda ident, hour: f"{hour}.{len(ident)}0000000000000001")


def test_pages_are_followed_to_the_empty_token_with_the_documented_parameters() -> None:
    api = DremioUsage(_usage(), TOKEN)
    with serve(api) as (url, seen):
        fetched = _client(url).fetch(WINDOW, "HOURLY", "PROJECT")
    assert fetched.pages == 3 and len(fetched.objects) == 12
    first = seen[0].query
    assert first["maxResults"] == "5" and first["frequency"] == "HOURLY" and first["groupBy"] == "PROJECT"
    assert first["filter"] == "start_time >= 1714521600000 && start_time < 1714608000000"
    assert "pageToken" not in first and seen[1].query["pageToken"] == "5"
    assert all(r.query["filter"] == first["filter"] for r in seen)  # nothing but the token changes
    assert fetched.objects[0]["usage"] == "0.30000000000000001" and isinstance(fetched.objects[0]["usage"], Number)


def test_an_empty_page_with_a_next_token_is_followed() -> None:
    pages = iter(
        [
            Answer.json({"data": [], "nextPageToken": "a"}),
            Answer.json({"data": [], "nextPageToken": "b", "previousPageToken": "a"}),
            Answer.json({"data": _usage(1), "nextPageToken": None}),
        ]
    )
    with serve(lambda request: next(pages)) as (url, seen):
        fetched = _client(url).fetch(WINDOW, "HOURLY", "PROJECT")
    assert (fetched.pages, len(fetched.objects), len(seen)) == (3, 2, 3)


def test_a_repeated_page_token_stops_with_an_error_instead_of_looping() -> None:
    def loop(request: Request) -> Answer:
        return Answer.json({"data": [], "nextPageToken": "same"})

    with serve(loop) as (url, seen), pytest.raises(SourceApiError, match="page token 'same' again"):
        _client(url).fetch(WINDOW, "HOURLY", "PROJECT")
    assert len(seen) == 2


def test_more_pages_than_the_limit_is_an_error() -> None:
    with serve(DremioUsage(_usage(), TOKEN)) as (url, _), pytest.raises(SourceApiError, match="more than 2 pages"):
        _client(url, max_pages=2).fetch(WINDOW, "HOURLY", "PROJECT")


def test_429_and_503_are_retried_honouring_retry_after() -> None:
    api = DremioUsage(_usage(1), TOKEN)
    api.faults = {
        1: Answer.json({"errorMessage": "slow down"}, 429, **{"Retry-After": "1"}),
        2: Answer.json({"errorMessage": "busy"}, 503, **{"Retry-After": "0"}),
    }
    started = time.monotonic()
    with serve(api) as (url, seen):
        fetched = _client(url).fetch(WINDOW, "HOURLY", "PROJECT")
    assert len(fetched.objects) == 2 and len(seen) == 3
    assert time.monotonic() - started >= 1.0  # the server's Retry-After was waited for


def test_retry_after_as_an_http_date_is_honoured() -> None:
    from pipelines.sources.dremio_api import retry_after_seconds

    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0  # in the past: no wait, no crash
    in_30_seconds = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 0 < (retry_after_seconds(in_30_seconds) or 0) <= 30


def test_retrying_stops_when_the_time_budget_is_spent() -> None:
    def busy(request: Request) -> Answer:
        return Answer.json({"errorMessage": "maintenance"}, 503, **{"Retry-After": "1"})

    started = time.monotonic()
    with serve(busy) as (url, seen), pytest.raises(SourceApiError, match=r"gave up .* HTTP 503: maintenance"):
        _client(url, retry_seconds=2.5).fetch(WINDOW, "HOURLY", "PROJECT")
    assert 2 <= len(seen) <= 4 and time.monotonic() - started < 5


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_fail_at_once_naming_the_variable_never_the_token(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(request: Request) -> Answer:  # a careless server that echoes what it was sent
        return Answer.json({"errorMessage": f"bad {request.headers['Authorization']}"}, status)

    with caplog.at_level(logging.DEBUG), serve(refuse) as (url, seen), pytest.raises(CredentialsRejected) as raised:
        DremioUsageClient(url, TOKEN, token_variable="DREMIO_TOKEN").fetch(WINDOW, "HOURLY", "PROJECT")
    assert len(seen) == 1
    assert "DREMIO_TOKEN" in str(raised.value) and TOKEN not in str(raised.value) and TOKEN not in caplog.text


@pytest.mark.parametrize("status", [400, 404])
def test_bad_requests_fail_with_the_servers_message(status: int) -> None:
    def reject(request: Request) -> Answer:
        return Answer.json({"errorMessage": "filter: start_time is more than one year ago"}, status)

    with serve(reject) as (url, seen), pytest.raises(SourceApiError, match=f"HTTP {status}.*more than one year ago"):
        _client(url).fetch(WINDOW, "HOURLY", "PROJECT")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"data": [', "malformed JSON"),
        (b"<html>gateway</html>", "malformed JSON"),
        (b'{"data": [], "nextPageToken": "", "total": 3}', r"undocumented field\(s\) \['total'\]"),
        (b'{"data": [{"id": "p", "usage": 1, "cost": 2}]}', r"undocumented usage field\(s\) \['cost'\]"),
        (b'{"items": []}', "undocumented"),
        (b'{"data": {}}', "no `data` array"),
    ],
)
def test_answers_that_are_not_the_documented_json_are_errors(body: bytes, error: str) -> None:
    with serve(lambda request: Answer(200, body)) as (url, _), pytest.raises(SourceApiError, match=error):
        _client(url).fetch(WINDOW, "HOURLY", "PROJECT")


SOURCE = DremioSource(base_url="http://unused", backfill_days=200, refetch_hours=6)


def test_the_first_run_backfills_in_windows_of_at_most_90_days_from_midnight() -> None:
    now = datetime(2024, 12, 31, 10, 25, tzinfo=UTC)
    windows = plan_windows(now, None, SOURCE)
    assert windows[0].start == datetime(2024, 6, 14, tzinfo=UTC)  # 200 days back, at midnight
    assert windows[-1].end == datetime(2024, 12, 31, 11, tzinfo=UTC)  # the hour in progress included
    assert all(w.end - w.start <= timedelta(days=90) for w in windows)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))


def test_later_runs_refetch_a_trailing_window_and_never_reach_back_a_year() -> None:
    now = datetime(2024, 12, 31, 10, 25, tzinfo=UTC)
    again = plan_windows(now, datetime(2024, 12, 31, 4, tzinfo=UTC), SOURCE)
    assert [(w.start, w.end) for w in again] == [
        (datetime(2024, 12, 30, tzinfo=UTC), datetime(2024, 12, 31, 11, tzinfo=UTC))
    ]
    assert window_days(again[0]) == [datetime(2024, 12, 30).date(), datetime(2024, 12, 31).date()]
    far = plan_windows(now, None, DremioSource(backfill_days=365))
    assert far[0].start == datetime(2024, 1, 2, tzinfo=UTC)  # a full year back would be refused by the API


def test_every_object_read_is_landed_or_quarantined_with_a_reason() -> None:
    good: list[dict[str, Any]] = [{**o, "usage": Number(o["usage"])} for o in _usage(2)]
    bad: list[dict[str, Any]] = [
        {**good[0]},  # repeated in the same answer
        {**good[1], "usage": Number("-1")},
        {**good[1], "id": "p-3", "usage": "2.5"},  # a string, not a JSON number
        {**good[1], "id": "p-4", "startTime": "yesterday"},
        {**good[1], "id": "p-5", "type": "ENGINE"},
        {**good[1], "id": "p-6", "startTime": "2024-05-03T00:00:00Z", "endTime": "2024-05-03T01:00:00Z"},
        {**good[1], "id": "p-7", "endTime": "2024-05-01T03:00:00Z"},
        {**good[1], "id": {"not": "text"}},
        {**good[1], "id": "p-8", "startTime": "20240501T010000Z"},  # ISO basic form: Spark would not read it
    ]
    objects = good + bad
    fetched = FetchedWindow(WINDOW, "http://unused/v0/usage", objects, sha256="x")
    result = sort_window(fetched, DremioSource(), datetime.now(UTC))
    assert result.read == len(objects) == len(result.landed) + len(result.quarantined)
    assert len(result.landed) == 4
    assert [row[4] for row in result.quarantined] == [
        "duplicate of another object with this id and startTime in the same answer",
        "usage is negative or not finite",
        "missing usage, or usage is not a JSON number",
        "missing or unparseable startTime (expected ISO-8601 with a zone, such as 2024-01-05T17:00:00Z)",
        "type 'ENGINE' is not the requested grouping PROJECT",
        "startTime outside the requested window 2024-05-01T00:00:00Z/2024-05-02T00:00:00Z",
        "startTime to endTime is not one hour",
        "missing id",
        "missing or unparseable startTime (expected ISO-8601 with a zone, such as 2024-01-05T17:00:00Z)",
    ]
    assert result.quarantined[1][3].endswith('"usage": -1}')  # the raw object keeps the number as sent
