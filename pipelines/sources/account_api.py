"""Download legacy billable usage through the Databricks Account API and split it into monthly deliveries.

The download (`AccountClient.billable_usage.download`) covers every workspace of the account in one
CSV. `split_month` cuts one month's download into `workspaceId=<id>-usageMonth=<yyyy-mm>.csv` files,
keeping every record's bytes as they came, so a re-download replaces months exactly the way
re-delivered S3 files do. Authentication is the SDK's own: OAuth service principal
(DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET), a token (DATABRICKS_TOKEN), or a profile.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.logs import install_redaction, redact
from pipelines.sources.legacy_csv import FILE_NAME, header_problem, month_file_name
from pipelines.tables import LEGACY_CSV_COLUMNS

DEFAULT_ACCOUNT_HOST = "https://accounts.cloud.databricks.com"
CREDENTIALS_HINT = (
    "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (an OAuth service principal with the account admin role,"
    " recommended), or DATABRICKS_TOKEN"
)
_CHUNK = 1 << 20


def account_client(account_id: str, host: str | None, timeout_seconds: int) -> Any:
    """An AccountClient configured the way the SDK does it (environment variables or profile).

    `timeout_seconds` bounds the SDK's own retries of 429 and 503 (it honours Retry-After).
    """
    from databricks.sdk import AccountClient
    from databricks.sdk.config import Config

    install_redaction()
    host = host or os.environ.get("DATABRICKS_HOST") or DEFAULT_ACCOUNT_HOST
    try:
        config = Config(host=host, account_id=account_id, retry_timeout_seconds=timeout_seconds)
    except ValueError as error:
        detail = redact(str(error).split(". Config:")[0])[:300]
        raise CredentialsRejected(
            f"no usable Databricks credentials for {host}: set {CREDENTIALS_HINT} ({detail})"
        ) from None
    return AccountClient(config=config)


@dataclass
class Download:
    """One month's download, copied to a local file."""

    month: str
    path: Path
    size: int
    sha256: str


def download_month(client: Any, account_id: str, month: str, personal_data: bool, folder: Path) -> Download:
    """Copy one month's CSV to a file in `folder`. Raises SourceApiError (or CredentialsRejected) on failure."""
    from databricks.sdk import errors

    target = folder / f"usage-{month}.csv"
    digest, size = hashlib.sha256(), 0
    try:
        response = client.billable_usage.download(start_month=month, end_month=month, personal_data=personal_data)
        with target.open("wb") as out:
            while chunk := response.contents.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except (errors.Unauthenticated, errors.PermissionDenied) as error:
        status = 401 if isinstance(error, errors.Unauthenticated) else 403
        raise CredentialsRejected(
            f"Account API refused the credentials (HTTP {status}) for account {account_id}: check {CREDENTIALS_HINT};"
            " downloading billable usage needs an account admin"
        ) from None
    except (errors.BadRequest, errors.NotFound) as error:
        status = 400 if isinstance(error, errors.BadRequest) else 404
        raise SourceApiError(
            f"Account API rejected the download of {month} (HTTP {status}): {sdk_message(error)}"
        ) from None
    except TimeoutError as error:
        raise SourceApiError(
            f"Account API download of {month} still failing when the retry budget ran out"
            f" (sources.account_api.timeout_seconds): {sdk_message(error)}"
        ) from None
    except errors.DatabricksError as error:
        raise SourceApiError(f"Account API download of {month} failed: {sdk_message(error)}") from None
    except OSError as error:
        raise SourceApiError(
            f"Account API download of {month} failed: {type(error).__name__}: {sdk_message(error)}"
        ) from None
    return Download(month, target, size, digest.hexdigest())


def sdk_message(error: Exception) -> str:
    """The server's message without the SDK's appended config dump, redacted and shortened."""
    return redact(str(error).split(". Config:")[0])[:300] or type(error).__name__


def _records(path: Path) -> Any:
    """Raw records (with their line breaks) of a CSV file; a quoted field may span lines."""
    with path.open("r", encoding="utf-8-sig", newline="") as lines:
        record = ""
        for line in lines:
            record += line
            if record.count('"') % 2 == 0:
                yield record
                record = ""
        if record:
            yield record


@dataclass
class SplitMonth:
    """What splitting one month's download produced."""

    files: dict[str, int] = field(default_factory=dict)  # workspace id -> records written
    unassigned: list[tuple[str, str]] = field(default_factory=list)  # (raw record, reason)

    @property
    def records(self) -> int:
        return sum(self.files.values()) + len(self.unassigned)


def split_month(download: Download, landing: Path) -> SplitMonth:
    """Write the download as one file per workspace into `landing`, replacing that month's files.

    The body must start with the billable-usage header, or nothing is written. A record whose
    workspaceId is missing or not a number belongs to no delivery: it is returned as unassigned.
    A workspace that had a file for this month and is absent from the new download gets a
    header-only file, so its month is emptied like a re-delivered empty file would.
    """
    header = f"{','.join(LEGACY_CSV_COLUMNS)}\n"
    result = SplitMonth()
    staging = Path(tempfile.mkdtemp(prefix=".split-", dir=landing))
    try:
        records = _records(download.path)
        first = next(records, None)
        if header_problem(None if first is None else first.rstrip("\r\n")) is not None:
            # an error page can echo the request's credentials or a user's e-mail: redact before shortening
            shown = "an empty answer" if first is None else repr(redact(first.strip()[:1000])[:80])
            raise SourceApiError(
                f"Account API download of {download.month} is not the billable-usage CSV (it starts with {shown});"
                " nothing was written"
            )
        outputs: dict[str, Any] = {}
        try:
            for record in records:
                fields = next(csv.reader([record]), [])
                workspace = fields[0].strip() if fields else ""
                if not workspace.isdigit():
                    result.unassigned.append((record.rstrip("\r\n"), "workspaceId missing or not a number"))
                    continue
                if workspace not in outputs:
                    outputs[workspace] = (staging / month_file_name(workspace, download.month)).open(
                        "w", encoding="utf-8", newline=""
                    )
                    outputs[workspace].write(header)
                    result.files[workspace] = 0
                outputs[workspace].write(record if record.endswith("\n") else record + "\n")
                result.files[workspace] += 1
        finally:
            for out in outputs.values():
                out.close()
        for existing in landing.iterdir():
            match = FILE_NAME.match(existing.name)
            if match and match.group(2) == download.month and match.group(1) not in result.files:
                (staging / existing.name).write_text(header, encoding="utf-8")
        for written in sorted(staging.iterdir()):
            os.replace(written, landing / written.name)
    except UnicodeDecodeError:
        raise SourceApiError(
            f"Account API download of {download.month} is not the billable-usage CSV (it is not UTF-8 text);"
            " nothing was written"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result
