"""Fetch the FOCUS 1.2 requirements model from the FinOps Foundation's `focus-validator` sdist on PyPI.

The validator needs Python 3.12, so only its data travels: pip downloads the pinned sdist (no dependencies), its
sha256 is checked, and the model JSON and the ISO 4217 code list are extracted with `tarfile` (`make install`).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pipelines.errors import BillingLakehouseError

PACKAGE = "focus-validator==2.2.1"
SDIST = "focus_validator-2.2.1.tar.gz"
SDIST_SHA256 = "0b9560ec8b7e36b5cf0c9685bb7ed2fa6f0e734cb8a14eb176a2bff5369cabcb"
MEMBERS = {  # path inside the sdist -> file name under --out
    "focus_validator-2.2.1/focus_validator/rules/model-1.2.0.1.json": "model-1.2.0.1.json",
    "focus_validator-2.2.1/focus_validator/rules/currency_codes.csv": "currency_codes.csv",
}


def download_sdist(directory: Path) -> Path:
    """pip-download the pinned sdist into `directory`; requires-python is ignored since nothing is installed."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    command += ["--ignore-requires-python", PACKAGE, "-d", str(directory)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sdist = directory / SDIST
    if result.returncode != 0 or not sdist.is_file():
        raise BillingLakehouseError(f"pip download {PACKAGE} failed: {result.stderr.strip() or 'no sdist'}")
    return sdist


def extract_model(sdist: Path, out: Path) -> list[Path]:
    """Check the sdist's sha256, then write the model and the currency codes (only those) under `out`."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise BillingLakehouseError(f"{sdist.name}: sha256 {digest}, expected {SDIST_SHA256}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(sdist, "r:gz") as archive:
        for member, name in MEMBERS.items():
            source = archive.extractfile(member)
            if source is None:
                raise BillingLakehouseError(f"{sdist.name} has no file {member}")
            target = out / name
            partial = target.with_suffix(target.suffix + ".partial")
            partial.write_bytes(source.read())
            partial.replace(target)  # the Makefile target exists only once it is complete
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipelines.focus.fetch --out DIR`: 0 when the model is in DIR, 1 with the reason otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/focus"), help="folder for the model files")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            written = extract_model(download_sdist(Path(tmp)), args.out)
    except (BillingLakehouseError, OSError, tarfile.TarError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
