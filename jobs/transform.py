"""spark-submit entry point for the transform stage (silver and gold): `spark-submit jobs/transform.py --config ...`."""

from __future__ import annotations

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["transform", *sys.argv[1:]]))
