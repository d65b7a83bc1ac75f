"""The project's one exception hierarchy."""

from __future__ import annotations


class BillingLakehouseError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(BillingLakehouseError):
    """A configuration file is missing, malformed or holds an unexpected value."""

    def __init__(self, file: str, key: str, expected: str, got: object = None) -> None:
        self.file, self.key, self.expected = file, key, expected
        message = f"{file}: {key}: expected {expected}"
        if got is not None:
            message += f", got {got!r}"
        super().__init__(message)


class SourceMissing(BillingLakehouseError):
    """A configured source location does not exist (a typo, or storage that is not mounted)."""


class StorageError(BillingLakehouseError):
    """A table could not be read or written by the configured storage backend."""


class SourceApiError(BillingLakehouseError):
    """A usage API failed, or answered with something other than what it documents; nothing was landed."""


class CredentialsRejected(SourceApiError):
    """A usage API refused the credentials (HTTP 401 or 403); the message names what to check."""


class WarehouseBusy(BillingLakehouseError):
    """Another run holds the warehouse's lease and did not finish within the configured wait; nothing was written."""


class ConcurrentCommit(WarehouseBusy):
    """Another run committed to a table while this run wrote it (no lease: catalog tables, object stores)."""


class WebhookFailed(BillingLakehouseError):
    """The alert webhook did not accept a post after its retries; the message never holds the URL."""
