"""spark-submit entry point: `spark-submit jobs/run_pipeline.py --config conf/pipeline.yml`."""

from __future__ import annotations

import sys

from pipelines.cli import entry_point

if __name__ == "__main__":
    entry_point(["run", *sys.argv[1:]])  # a non-zero exit raises SystemExit: the task fails
