"""The `billing-lakehouse` command: parse arguments, build the session, call one function."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.config.reader import FIRST_USAGE_MONTH, MONTH
from pipelines.errors import BillingLakehouseError
from pipelines.failures import root_cause
from pipelines.logs import LOG_FORMATS, configure_logging, redact

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "BILLING_LAKEHOUSE_CONFIG"
DEFAULT_CONFIG = Path("conf") / "pipeline.yml"

DESCRIPTION = """\
Turn cloud billing data into Delta cost tables you can trust to the cent.

billing-lakehouse lands Databricks billable usage (delivered CSVs,
system.billing exports, the Account API), list prices and Dremio Cloud usage
as delivered (bronze), nets it into one usage table with validated price
windows (silver), and prices every usage record (gold): cost per day, tag,
workload and identity, and the usage no price covers."""

EPILOG = f"""\
where to start:
  billing-lakehouse run       land what is new, refresh the cost tables
  billing-lakehouse summary   read the costs (report --out report.html: charts)
  billing-lakehouse status    what each table holds, the last ingest per source

The configuration comes from --config PATH, else the file named by
${CONFIG_VARIABLE}, else {DEFAULT_CONFIG} in the working directory.
`billing-lakehouse COMMAND --help` shows a command's options; the README has
the rest (exit codes, logs, deploying to Databricks)."""

COMMANDS = {
    "run": "land what is new in bronze, then refresh silver and gold",
    "ingest": "land every configured source in bronze (or fetch one usage API); no silver or gold",
    "transform": "refresh silver and gold from what bronze holds now",
    "status": "show each table's Delta version, row count and the last ingest per source",
    "summary": "print a readable cost summary of the gold tables",
    "report": "write the cost report: one self-contained HTML page with charts and the tables behind them",
    "export": "write one billing period of the FOCUS 1.2 Cost and Usage dataset (gold.focus_cost) as files",
    "alerts": "print budget thresholds crossed and cost anomalies not alerted before, post them to the webhook",
}

ALERTS_EPILOG = """\
Each budget threshold crossed in a month (gold.budget_status) and each cost
anomaly (gold.cost_anomalies) is sent once: it is recorded in gold.alert_log
after the webhook accepted it, or after it was printed when no webhook is set.
The webhook URL is read from $BILLING_LAKEHOUSE_ALERT_WEBHOOK (never from a
file, never printed); the post is JSON with a Slack-compatible `text` field.

exit codes:
  0  nothing new
  5  new alerts: printed (and posted, when the webhook is set)
  6  the webhook failed after its retries: nothing recorded, the next run sends them
  2  configuration or usage error; 3 unexpected failure; 4 the warehouse is busy"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billing-lakehouse",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_log_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for name, text in COMMANDS.items():
        command = commands.add_parser(
            name,
            help=text,
            description=text,
            epilog=ALERTS_EPILOG if name == "alerts" else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "ingest":
            command.add_argument(
                "source", nargs="?", choices=["account-api", "dremio"], help="fetch only this usage API"
            )
            command.add_argument("--start-month", type=_month, help="account-api: first month to download (YYYY-MM)")
            command.add_argument("--end-month", type=_month, help="account-api: last month to download (YYYY-MM)")
        if name == "report":
            command.add_argument("--out", default="report.html", help="the HTML file to write (default report.html)")
        if name == "export":
            command.add_argument("dataset", choices=["focus"], help="the dataset to export: focus (FOCUS 1.2)")
            command.add_argument("--month", type=_month, required=True, help="the billing period to write (YYYY-MM)")
            command.add_argument(
                "--out", required=True, help="folder to write into: <out>/billing_period=YYYY-MM/ is replaced"
            )
            command.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="default parquet")
        command.add_argument(
            "--config", help=f"path to pipeline.yml (default: ${CONFIG_VARIABLE}, else {DEFAULT_CONFIG} if it exists)"
        )
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config value, e.g. --set catalog=main --set schemas.gold=billing (repeatable)",
        )
        _add_log_options(command, top_level=False)
    return parser


def _add_log_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    """-v/-q/--log-format, before the command or after it (where they leave the top-level value alone)."""

    def default(value: object) -> object:
        return value if top_level else argparse.SUPPRESS

    parser.add_argument(
        "--verbose",
        "-v",
        action="count",
        default=default(0),
        help="explain each decision (which files land, which dates are recomputed and why) and show the full error"
        " of a failure; -vv for debug detail",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", default=default(False), help="no progress lines: warnings and errors only"
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default("auto"),
        help="logs on stderr as json (one object per line), text, or auto: text on a terminal, json otherwise",
    )


def _month(value: str) -> str:
    if not MONTH.fullmatch(value) or value < FIRST_USAGE_MONTH:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM from {FIRST_USAGE_MONTH} on, got {value!r}")
    return value


def config_path(given: str | None) -> str:
    """--config, else the file $BILLING_LAKEHOUSE_CONFIG names, else conf/pipeline.yml in the working directory."""
    if given:
        return given
    if os.environ.get(CONFIG_VARIABLE, "").strip():
        return os.environ[CONFIG_VARIABLE].strip()
    if DEFAULT_CONFIG.is_file():
        return str(DEFAULT_CONFIG)
    raise BillingLakehouseError(
        f"no configuration: pass --config PATH, or set {CONFIG_VARIABLE} to the path of pipeline.yml"
        f" (there is no {DEFAULT_CONFIG} in {Path.cwd()} either)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.verbose, args.quiet, args.log_format)
    try:
        from pipelines.app import run_command

        config = config_path(args.config)
        if args.command == "ingest":
            months = (args.start_month, args.end_month)
            return run_command("ingest", config, args.source, months, args.overrides)
        if args.command == "report":
            return run_command("report", config, overrides=args.overrides, out=args.out)
        if args.command == "export":
            export = (args.month, args.format)
            return run_command("export", config, overrides=args.overrides, out=args.out, export=export)
        return run_command(args.command, config, overrides=args.overrides)
    except BillingLakehouseError as error:
        print(f"billing-lakehouse: {redact(str(error))}", file=sys.stderr)
        return 2
    except Exception as error:  # one line naming the root cause; the trace (redacted) at -v
        log.info("the full error", exc_info=True)
        print(f"billing-lakehouse: failed: {redact(root_cause(error))[:1000]}", file=sys.stderr)
        return 3


def entry_point(argv: Sequence[str] | None = None) -> None:
    """The package's entry point (`billing-lakehouse`, and what a Databricks `python_wheel_task` calls): `main`,
    with a non-zero exit code raised as `SystemExit(code)`.

    A wheel task calls the function the wheel's entry-point metadata names and ignores what it returns: only an
    exception fails the task. A console script turns the same `SystemExit` into the process's exit code. Success
    returns None rather than raising `SystemExit(0)`, which every caller reads as success.
    """
    code = main(argv)
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    entry_point()
