"""The `focus:` settings: how the FOCUS view of cost names accounts and when a month counts as invoiced."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config.reader import YamlReader

# Databricks issues a month's invoice in the first days of the next month; a correction ingested from
# this day of the next month on is booked to a later invoice (a FOCUS `Correction` row).
DEFAULT_INVOICE_CLOSE_DAY = 5


@dataclass(frozen=True)
class FocusSettings:
    """Names and the invoicing rule the FOCUS export needs beyond the usage itself."""

    invoice_close_day: int = DEFAULT_INVOICE_CLOSE_DAY
    billing_account_name: str | None = None  # the Databricks account's display name; default its id
    invoice_issuer: str = "Databricks"  # who invoices Databricks usage (a marketplace, when bought through one)
    dremio_billing_account_id: str | None = None  # the Dremio organization id; default the API host
    dremio_billing_account_name: str | None = None  # default the id


def load_focus(reader: YamlReader, raw: object) -> FocusSettings:
    """`focus:` from pipeline.yml; every key optional."""
    settings = reader.mapping(raw or {}, "focus")
    keys = {
        "invoice_close_day",
        "billing_account_name",
        "invoice_issuer",
        "dremio_billing_account_id",
        "dremio_billing_account_name",
    }
    reader.unknown_keys(settings, keys, "focus")

    def optional(name: str) -> str | None:
        return None if settings.get(name) is None else reader.string(settings, name, f"focus.{name}")

    return FocusSettings(
        invoice_close_day=reader.integer(
            settings, "invoice_close_day", "focus.invoice_close_day", DEFAULT_INVOICE_CLOSE_DAY, 1, 28
        ),
        billing_account_name=optional("billing_account_name"),
        invoice_issuer=reader.string(settings, "invoice_issuer", "focus.invoice_issuer", "Databricks"),
        dremio_billing_account_id=optional("dremio_billing_account_id"),
        dremio_billing_account_name=optional("dremio_billing_account_name"),
    )
