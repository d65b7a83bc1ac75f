"""spark-submit entry point: `spark-submit jobs/run_pipeline.py --config conf/pipeline.yml`."""

from __future__ import annotations

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
