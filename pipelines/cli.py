"""The `billing-lakehouse` command: parse arguments, build the session, call one function."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pipelines.errors import BillingLakehouseError


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
        command.add_argument("--verbose", "-v", action="store_true", help="explain each decision")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        from pipelines.app import run_command

        return run_command(args.command, args.config)
    except BillingLakehouseError as error:
        print(f"billing-lakehouse: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
