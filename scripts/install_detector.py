#!/usr/bin/env python
"""Build the hand detector's model file once (``make install`` runs this).

    python scripts/install_detector.py                 # download the 0.10.21 wheel, build, verify
    python scripts/install_detector.py --wheel W.whl   # use an already downloaded wheel
    python scripts/install_detector.py --out F.task --force

The ``mediapipe==0.10.21`` wheel is downloaded from PyPI with pip (no dependencies: it is never
installed), its palm detector and landmark network are checked against pinned SHA-256 sums and
stored as a ``.task`` bundle at the default path (``$HIFIHR_CACHE`` or ``~/.cache/hifihr``), which
the detector loads. A file already there that passes the checks is kept.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from hifihr.detect.model import DetectorModelError, build_task, check_task, default_model_path, download_wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="a downloaded mediapipe-0.10.21 wheel (default: download it)")
    parser.add_argument("--out", type=Path, default=None, help=f"the .task file to write (default {default_model_path()})")
    parser.add_argument("--force", action="store_true", help="rebuild even if a valid file is there")
    args = parser.parse_args(argv)
    out = args.out or default_model_path()
    try:
        if out.is_file() and not args.force:
            check_task(out, pinned=True)
            print(f"hand detector model: {out} (present, checksums match)")
            return 0
        if args.wheel is not None:
            build_task(args.wheel, out)
        else:
            with tempfile.TemporaryDirectory() as directory:
                build_task(download_wheel(Path(directory)), out)
        check_task(out, pinned=True)
    except DetectorModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"hand detector model: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
