"""spark-submit entry point for the transform stage (silver and gold): `spark-submit jobs/transform.py --config ...`."""

from __future__ import annotations

import sys

from pipelines.cli import entry_point

if __name__ == "__main__":
    entry_point(["transform", *sys.argv[1:]])  # a non-zero exit raises SystemExit: the task fails
