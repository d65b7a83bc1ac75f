"""The `billing-lakehouse` command: parse arguments, build the session, call one function."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pipelines.errors import BillingLakehouseError
from pipelines.logs import install_email_masking, mask_emails


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing-lakehouse", description=__doc__)
    parser.add_argument("--verbose", "-v", action="store_true", help="explain each decision")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "land new deliveries and refresh silver and gold"),
        ("status", "show each table's Delta version, row count and the last ingest per source"),
        ("summary", "print a readable cost summary of the gold tables"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", required=True, help="path to pipeline.yml")
        command.add_argument(
            "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="explain each decision"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_email_masking()
    try:
        from pipelines.app import run_command

        return run_command(args.command, args.config)
    except BillingLakehouseError as error:
        print(f"billing-lakehouse: {mask_emails(str(error))}", file=sys.stderr)
        return 2
    except Exception as error:  # a one-line summary; row values in a Spark trace could hold emails
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"billing-lakehouse: failed: {type(error).__name__}: {mask_emails(first_line)[:500]}", file=sys.stderr)
        logging.getLogger(__name__).debug("details", exc_info=True)
        return 3


if __name__ == "__main__":
    sys.exit(main())
