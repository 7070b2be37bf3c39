"""Convert a config file of the original HiFiHR code into this project's config.

    python scripts/import_reference_config.py REFERENCE.json [--out config/FreiHAND/mine.json]

Prints the converted config (validated) and, on stderr, every reference key that was not
carried over, with the reason. The mapping rules are those of :mod:`hifihr.config_import`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hifihr.config import ConfigError, config_from_dict, save_config
from hifihr.config_import import convert_reference_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a reference HiFiHR config to this project's format.")
    parser.add_argument("reference", type=Path, help="a config/*/*.json file of the original HiFiHR code")
    parser.add_argument("--out", type=Path, help="also save the converted config here")
    args = parser.parse_args(argv)
    try:
        cfg, notes = convert_reference_config(json.loads(args.reference.read_text()))
    except (OSError, json.JSONDecodeError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cfg["description"] = f"imported from the reference's {args.reference.name} by scripts/import_reference_config.py"
    if args.out is not None:
        save_config(config_from_dict(cfg), args.out)
    print(json.dumps(cfg, indent=2))
    print(f"\n{len(notes)} reference key(s) not carried over or to check:", file=sys.stderr)
    for note in notes:
        print(f"  - {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
