"""The Account API download through the real databricks-sdk against a local server, and the monthly split."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pipelines.bronze.land_account_api import months_to_download
from pipelines.cli import main
from pipelines.config import AccountApiSource, load_config
from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.sources.account_api import account_client, download_month, split_month
from pipelines.storage import open_store
from pipelines.tables import ALL_TABLES, INGEST_LOG, LEGACY_CSV_COLUMNS
from tests.api_servers import AccountApi, Answer, serve
from tests.conftest import write_config

ACCOUNT = "acc-0001"
TOKEN = "dapi-secret-token"
HEADER = ",".join(LEGACY_CSV_COLUMNS)
ROWS = [
    '111,2024-01-05T10:59:59.999Z,c-1,"etl, nightly",m5.xlarge,1,"{""team"":""data, core""}",'
    'STANDARD_ALL_PURPOSE_COMPUTE,1.5,1,,"{}"',
    '222,2024-01-05T10:59:59.999Z,c-2,"two\nlines",m5.xlarge,2,"{}",PREMIUM_JOBS_COMPUTE,0.25,1,,"{}"',
    '111,2024-01-06T10:59:59.999Z,c-1,etl,m5.xlarge,1,"{}",STANDARD_ALL_PURPOSE_COMPUTE,2,1,,"{}"',
    ',2024-01-06T10:59:59.999Z,c-9,orphan,m5.xlarge,1,"{}",STANDARD_ALL_PURPOSE_COMPUTE,2,1,,"{}"',
]


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)


def _download(url: str, month: str, folder: Path) -> Path:
    client = account_client(ACCOUNT, url, timeout_seconds=10)
    return download_month(client, ACCOUNT, month, False, folder).path


def test_the_sdk_downloads_one_month_with_personal_data_off(tmp_path: Path) -> None:
    body = HEADER + "\n" + "\n".join(ROWS) + "\n"
    with serve(AccountApi(ACCOUNT, {"2024-01": body}, TOKEN)) as (url, seen):
        path = _download(url, "2024-01", tmp_path)
    assert path.read_text() == body
    download = seen[-1]
    assert download.query == {"start_month": "2024-01", "end_month": "2024-01", "personal_data": "false"}
    assert download.headers["Authorization"] == f"Bearer {TOKEN}" and download.headers["Accept"] == "text/plain"


def test_a_download_splits_into_workspace_month_files_with_records_as_sent(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "workspaceId=333-usageMonth=2024-01.csv").write_text(HEADER + "\n" + ROWS[2].replace("111", "333"))
    (landing / "workspaceId=333-usageMonth=2023-12.csv").write_text(HEADER + "\n")
    with serve(AccountApi(ACCOUNT, {"2024-01": HEADER + "\r\n" + "\r\n".join(ROWS) + "\r\n"}, TOKEN)) as (url, _):
        client = account_client(ACCOUNT, url, timeout_seconds=10)
        split = split_month(download_month(client, ACCOUNT, "2024-01", False, tmp_path), landing)

    assert split.files == {"111": 2, "222": 1} and split.records == 4
    assert split.unassigned == [(ROWS[3], "workspaceId missing or not a number")]
    first = (landing / "workspaceId=111-usageMonth=2024-01.csv").read_bytes().decode()
    assert first == f"{HEADER}\n{ROWS[0]}\r\n{ROWS[2]}\r\n"  # quoting and line ends exactly as downloaded
    second = (landing / "workspaceId=222-usageMonth=2024-01.csv").read_bytes().decode()
    assert second == f"{HEADER}\n{ROWS[1]}\r\n"  # the line break inside the quoted name is kept as sent
    # a workspace that is no longer in the month's download has its month emptied; other months stay
    assert (landing / "workspaceId=333-usageMonth=2024-01.csv").read_text() == HEADER + "\n"
    assert (landing / "workspaceId=333-usageMonth=2023-12.csv").exists()
    assert sorted(p.name for p in landing.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, b"<html><body>Sign in</body></html>", {"Content-Type": "text/html"}),
        Answer(200, b""),
        Answer(200, b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"),
    ],
)
def test_a_body_that_is_not_the_usage_csv_writes_nothing(tmp_path: Path, answer: Answer) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    before = HEADER + "\n" + ROWS[0] + "\n"
    (landing / "workspaceId=111-usageMonth=2024-01.csv").write_text(before)
    api = AccountApi(ACCOUNT, {}, TOKEN)
    api.faults["2024-01"] = answer
    with serve(api) as (url, _), pytest.raises(SourceApiError, match="not the billable-usage CSV"):
        client = account_client(ACCOUNT, url, timeout_seconds=10)
        split_month(download_month(client, ACCOUNT, "2024-01", False, tmp_path), landing)
    assert [p.name for p in landing.iterdir()] == ["workspaceId=111-usageMonth=2024-01.csv"]
    assert (landing / "workspaceId=111-usageMonth=2024-01.csv").read_text() == before


LEAKED_TOKEN = "dapi0123456789abcdef0123456789abcdef"
LEAKED_EMAIL = "someone@example.com"
LEAKY_PAGE = f'{{"error": "Authorization: Bearer {LEAKED_TOKEN} is not allowed for {LEAKED_EMAIL}"}}'.encode()


def test_the_start_of_a_body_that_is_not_the_csv_is_shown_redacted(tmp_path: Path) -> None:
    api = AccountApi(ACCOUNT, {}, TOKEN)
    api.faults["2024-01"] = Answer(200, LEAKY_PAGE, {"Content-Type": "application/json"})
    with serve(api) as (url, _), pytest.raises(SourceApiError, match="not the billable-usage CSV") as raised:
        client = account_client(ACCOUNT, url, timeout_seconds=10)
        split_month(download_month(client, ACCOUNT, "2024-01", False, tmp_path), tmp_path)
    message = str(raised.value)
    assert "Bearer ***" in message and "s***@example.com" in message
    assert LEAKED_TOKEN[:8] not in message and LEAKED_EMAIL not in message


def test_a_failed_download_leaves_no_secret_in_output_or_bronze(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = AccountApi(ACCOUNT, {}, TOKEN)
    api.faults["2024-01"] = Answer(200, LEAKY_PAGE, {"Content-Type": "application/json"})
    with serve(api) as (url, _):
        source = f"  account_api:\n    host: {url}\n    start_month: '2024-01'\n    end_month: '2024-01'\n"
        path = write_config(tmp_path, None, None, extra=f"account_id: {ACCOUNT}\n", sources=source)
        assert main(["ingest", "account-api", "--config", str(path), "-v", "--log-format", "json"]) == 1

    out, err = capsys.readouterr()
    store = open_store(spark, load_config(path))
    (failed,) = store.read_rows(INGEST_LOG)
    assert failed["status"] == "failed" and "Bearer ***" in failed["error"] and "s***@example.com" in failed["error"]
    bronze = "\n".join(
        str(row)
        for t in ALL_TABLES
        if t.layer == "bronze" and store.version(t) is not None
        for row in store.read_rows(t)
    )
    for text in (out, err, bronze):
        assert LEAKED_TOKEN[:8] not in text and LEAKED_EMAIL not in text
    assert "not the billable-usage CSV" in out


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_what_to_check_and_never_the_token(
    tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    api = AccountApi(ACCOUNT, {}, TOKEN)
    code = "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED"
    api.faults["2024-01"] = Answer.json({"error_code": code, "message": f"token {TOKEN} is not allowed"}, status)
    with caplog.at_level(logging.DEBUG), serve(api) as (url, seen), pytest.raises(CredentialsRejected) as raised:
        _download(url, "2024-01", tmp_path)
    message = str(raised.value)
    assert f"HTTP {status}" in message and "DATABRICKS_CLIENT_SECRET" in message and "DATABRICKS_TOKEN" in message
    assert TOKEN not in message and TOKEN not in caplog.text
    assert len([r for r in seen if "usage/download" in r.path]) == 1  # not retried


@pytest.mark.parametrize(("status", "code"), [(400, "INVALID_PARAMETER_VALUE"), (404, "RESOURCE_DOES_NOT_EXIST")])
def test_bad_requests_fail_with_the_servers_message(tmp_path: Path, status: int, code: str) -> None:
    api = AccountApi(ACCOUNT, {}, TOKEN)
    api.faults["2024-01"] = Answer.json({"error_code": code, "message": "start_month is before 2019-03"}, status)
    with serve(api) as (url, _), pytest.raises(SourceApiError, match=f"HTTP {status}.*start_month is before 2019-03"):
        _download(url, "2024-01", tmp_path)


def test_throttling_is_retried_by_the_sdk_honouring_retry_after(tmp_path: Path) -> None:
    answers = iter([Answer.json({"error_code": "TOO_MANY_REQUESTS", "message": "slow"}, 429, **{"Retry-After": "1"})])
    api = AccountApi(ACCOUNT, {"2024-01": HEADER + "\n" + ROWS[0] + "\n"}, TOKEN)

    def throttled_once(request):
        if "usage/download" in request.path:
            answer = next(answers, None)
            if answer is not None:
                return answer
        return api(request)

    with serve(throttled_once) as (url, seen):
        path = _download(url, "2024-01", tmp_path)
    assert path.read_text().count("\n") == 2
    assert len([r for r in seen if "usage/download" in r.path]) == 2


def test_retries_stop_when_the_time_budget_is_spent(tmp_path: Path) -> None:
    api = AccountApi(ACCOUNT, {}, TOKEN)
    api.faults["2024-01"] = Answer.json(
        {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}, 503, **{"Retry-After": "1"}
    )
    with serve(api) as (url, _), pytest.raises(SourceApiError, match="retry budget"):
        download_month(account_client(ACCOUNT, url, timeout_seconds=2), ACCOUNT, "2024-01", False, tmp_path)


def test_months_never_downloaded_and_the_newest_ones_are_downloaded() -> None:
    source = AccountApiSource(landing="unused", start_month="2023-11", refresh_months=2)
    today = date(2024, 2, 10)
    assert months_to_download(source, set(), today) == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert months_to_download(source, {"2023-11", "2023-12", "2024-01", "2024-02"}, today) == ["2024-01", "2024-02"]
    assert months_to_download(source, {"2023-12", "2024-01"}, today) == ["2023-11", "2024-01", "2024-02"]
    ahead = AccountApiSource(landing="unused", start_month="2024-01", end_month="2024-06")
    assert months_to_download(ahead, set(), today) == ["2024-01", "2024-02"]  # no month after this one
