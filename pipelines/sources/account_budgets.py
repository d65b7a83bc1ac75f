"""Read the account's budget configurations through the Databricks SDK (`AccountClient.budgets.list`).

Every page is read; each configuration is kept as the SDK hands it back (`as_dict`, the API's own field
names), so bronze holds what the account said and silver decides what of it this pipeline can express.
Authentication is the SDK's own, as for the Account API download (`account_client`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipelines.errors import CredentialsRejected, SourceApiError
from pipelines.sources.account_api import CREDENTIALS_HINT, account_client, sdk_message


@dataclass(frozen=True)
class BudgetConfiguration:
    """One budget configuration as delivered: its id, name and the whole configuration as JSON text."""

    budget_configuration_id: str
    display_name: str | None
    configuration_json: str


def budgets_url(client: Any, account_id: str) -> str:
    """Where the configurations are listed (recorded as the delivery's path; it holds no credential)."""
    return f"{client.config.host}/api/2.1/accounts/{account_id}/budgets"


def list_budget_configurations(client: Any, account_id: str) -> list[BudgetConfiguration]:
    """Every budget configuration of the account, sorted by id. Raises SourceApiError (or CredentialsRejected)."""
    from databricks.sdk import errors

    try:
        configurations = [budget.as_dict() for budget in client.budgets.list()]
    except (errors.Unauthenticated, errors.PermissionDenied) as error:
        status = 401 if isinstance(error, errors.Unauthenticated) else 403
        raise CredentialsRejected(
            f"Account API refused the credentials (HTTP {status}) listing the budgets of account {account_id}:"
            f" check {CREDENTIALS_HINT}; reading budgets needs an account admin (or billing admin)"
        ) from None
    except TimeoutError as error:
        raise SourceApiError(
            "Account API budgets still failing when the retry budget ran out"
            f" (sources.account_budgets.timeout_seconds): {sdk_message(error)}"
        ) from None
    except errors.DatabricksError as error:
        raise SourceApiError(f"Account API budgets could not be listed: {sdk_message(error)}") from None
    except OSError as error:
        raise SourceApiError(
            f"Account API budgets could not be listed: {type(error).__name__}: {sdk_message(error)}"
        ) from None
    delivered = []
    for configuration in configurations:
        budget_id = configuration.get("budget_configuration_id")
        if not budget_id:
            raise SourceApiError("Account API listed a budget configuration without a budget_configuration_id")
        delivered.append(
            BudgetConfiguration(
                budget_configuration_id=str(budget_id),
                display_name=configuration.get("display_name"),
                configuration_json=json.dumps(configuration, sort_keys=True),
            )
        )
    return sorted(delivered, key=lambda budget: budget.budget_configuration_id)


def fetch_budget_configurations(
    account_id: str, host: str | None, timeout_seconds: int
) -> tuple[str, list[BudgetConfiguration]]:
    """(the list URL, every configuration) from a client configured like the Account API download's."""
    client = account_client(account_id, host, timeout_seconds)
    return budgets_url(client, account_id), list_budget_configurations(client, account_id)
