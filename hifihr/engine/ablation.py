"""The supervision ablation's variants of one base config, and the texture-effect table
(``scripts/ablate.py``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from hifihr.config import Config, apply_override, config_from_dict, read_config_file
from hifihr.engine.tables import COLUMNS, ResultRow
from hifihr.losses import preset_weights

MODES = ("full", "weak", "self")
#: Terms that exist only with a texture head, a render or a light head.
TEXTURE_TERMS = frozenset(
    {"texture", "mrgb", "ssim_tex", "perceptual", "sil", "texture_self", "mrgb_self", "ssim_tex_self", "lpips_tex", "mtex", "light_reg"}
)
#: Method labels of the two variants of a mode.
WITH_TEXTURE, WITHOUT_TEXTURE = "with texture", "without texture"


def variant(base: dict[str, Any], mode: str, texture: bool, out: str | Path) -> dict[str, Any]:
    """The raw config dict of one variant (see ``scripts/ablate.py``)."""
    data = copy.deepcopy(base)
    preset = set(preset_weights(mode))
    loss = data.setdefault("loss", {})
    loss["supervision"] = mode
    loss["drop"] = [name for name in loss.get("drop", []) if name in preset]
    loss["weights"] = {name: w for name, w in loss.get("weights", {}).items() if name in preset}
    loss["add"] = {name: w for name, w in loss.get("add", {}).items() if name not in preset}
    if not texture:
        loss["drop"] += sorted((preset - set(loss["drop"])) & TEXTURE_TERMS)
        loss["add"] = {name: w for name, w in loss["add"].items() if name not in TEXTURE_TERMS}
        data.setdefault("model", {}).update(texture=False, light="none")
        data.setdefault("render", {})["soft_silhouette"] = False
    if mode == "self":
        for spec in data.get("data", {}).get("train", []):
            spec.setdefault("options", {})["openpose"] = True
    experiment = data.setdefault("experiment", {})
    experiment["name"] = f"{experiment.get('name', 'run')}_{mode}{'' if texture else '_no_tex'}"
    experiment["output_dir"] = str(out)
    return data


def ablation_configs(
    config: str | Path, overrides: Sequence[str], modes: Sequence[str], out: str | Path
) -> list[tuple[str, Config]]:
    """(method label, config) of every variant: each mode with, then without texture.

    Raises:
        ConfigError: the base config or a variant is invalid (the message names the key).
    """
    base = read_config_file(config)
    for text in overrides:
        apply_override(base, text)
    return [
        (WITH_TEXTURE if texture else WITHOUT_TEXTURE, config_from_dict(variant(base, mode, texture, out)))
        for mode in modes
        for texture in (True, False)
    ]


def texture_effect_table(rows: Sequence[ResultRow]) -> str:
    """Markdown: per dataset and mode, each metric with texture minus without (measured)."""
    pairs: dict[tuple[str, str], dict[str, ResultRow]] = {}
    for row in rows:
        pairs.setdefault((row.dataset, row.supervision), {})[row.method] = row
    header = ["dataset", "supervision"] + [f"Δ {title}" for _, title, _ in COLUMNS]
    lines = [
        "Texture effect (with texture minus without, same data and schedule):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * len(COLUMNS)) + "|",
    ]
    for (dataset, supervision), methods in pairs.items():
        if WITH_TEXTURE not in methods or WITHOUT_TEXTURE not in methods:
            continue
        cells = [dataset, supervision]
        for key, _, decimals in COLUMNS:
            a, b = methods[WITH_TEXTURE].values[key], methods[WITHOUT_TEXTURE].values[key]
            cells.append("-" if a is None or b is None else f"{a - b:+.{decimals}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
