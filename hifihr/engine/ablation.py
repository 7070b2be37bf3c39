"""The supervision ablation's variants of one base config, the texture-effect table, and the
aggregation of several seeds per variant (``scripts/ablate.py``)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from rich.console import Console

from hifihr.config import Config, apply_override, config_from_dict, read_config_file
from hifihr.engine.tables import COLUMNS, ResultRow
from hifihr.engine.trainer import Trainer
from hifihr.losses import preset_weights

MODES = ("full", "weak", "self")
#: Terms that exist only with a texture head, a render or a light head.
TEXTURE_TERMS = frozenset(
    {"texture", "mrgb", "ssim_tex", "perceptual", "sil", "texture_self", "mrgb_self", "ssim_tex_self", "lpips_tex", "mtex", "light_reg"}
)
#: Method labels of the two variants of a mode.
WITH_TEXTURE, WITHOUT_TEXTURE = "with texture", "without texture"


def train_variant(cfg: Config, device: str, threads: int) -> Path:
    """Train one variant with ``threads`` CPU threads (a whole run, from scratch); its run folder."""
    torch.set_num_threads(threads)
    Trainer(cfg, device=device, overwrite=True, console=Console(stderr=True)).fit()
    return Path(cfg.experiment.output_dir) / cfg.experiment.name


def variant(base: dict[str, Any], mode: str, texture: bool, out: str | Path) -> dict[str, Any]:
    """The raw config dict of one variant (see ``scripts/ablate.py``)."""
    data = copy.deepcopy(base)
    preset = set(preset_weights(mode))
    loss = data.setdefault("loss", {})
    base_mode = loss.get("supervision", mode)
    loss["supervision"] = mode
    loss["drop"] = [name for name in loss.get("drop", []) if name in preset]
    loss["weights"] = {name: w for name, w in loss.get("weights", {}).items() if name in preset}
    # A term from some preset that the base adds to its own mode (say weak's joint_2d added to full)
    # is supervision of the base's mode: the other modes leave it out.
    supervised = set().union(*(preset_weights(m) for m in MODES))
    loss["add"] = {
        name: w
        for name, w in loss.get("add", {}).items()
        if name not in preset and (mode == base_mode or name not in supervised)
    }
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


def seeded(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """A copy of the raw config dict ``data`` with ``experiment.seed = seed`` and ``_s<seed>``
    appended to its run name."""
    data = copy.deepcopy(data)
    experiment = data.setdefault("experiment", {})
    experiment["seed"] = seed
    experiment["name"] = f"{experiment.get('name', 'run')}_s{seed}"
    return data


def ablation_configs(
    config: str | Path,
    overrides: Sequence[str],
    modes: Sequence[str],
    out: str | Path,
    seeds: Optional[Sequence[int]] = None,
) -> list[tuple[str, Config]]:
    """(method label, config) of every variant: each mode with, then without texture; with
    ``seeds``, every variant once per seed (run names ending ``_s<seed>``), seeds innermost.

    Raises:
        ConfigError: the base config or a variant is invalid (the message names the key).
    """
    base = read_config_file(config)
    for text in overrides:
        apply_override(base, text)
    out_list = []
    for mode in modes:
        for texture in (True, False):
            data = variant(base, mode, texture, out)
            label = WITH_TEXTURE if texture else WITHOUT_TEXTURE
            if seeds is None:
                out_list.append((label, config_from_dict(data)))
            else:
                out_list += [(label, config_from_dict(seeded(data, seed))) for seed in seeds]
    return out_list


@dataclass(frozen=True)
class SeedSummary:
    """One (dataset, supervision, method) cell over its seeds.

    Attributes:
        n: number of runs (seeds).
        mean: metric key -> mean over the runs (None when a run lacks it).
        std: metric key -> sample standard deviation (n - 1 in the denominator; 0 for one run).
    """

    dataset: str
    supervision: str
    method: str
    n: int
    mean: dict[str, Optional[float]]
    std: dict[str, Optional[float]]


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (Bessel-corrected; 0 for a single value)."""
    if not values:
        raise ValueError("mean_and_std of no values")
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarise_seeds(rows: Sequence[ResultRow]) -> list[SeedSummary]:
    """Group the rows of several seeds by (dataset, supervision, method), in first-seen order,
    and take each metric's mean and sample standard deviation."""
    groups: dict[tuple[str, str, str], list[ResultRow]] = {}
    for row in rows:
        groups.setdefault((row.dataset, row.supervision, row.method), []).append(row)
    summaries = []
    for (dataset, supervision, method), members in groups.items():
        mean: dict[str, Optional[float]] = {}
        std: dict[str, Optional[float]] = {}
        for key, _, _ in COLUMNS:
            values = [row.values[key] for row in members]
            if any(v is None for v in values):
                mean[key] = std[key] = None
            else:
                mean[key], std[key] = mean_and_std(values)
        summaries.append(SeedSummary(dataset, supervision, method, len(members), mean, std))
    return summaries


def difference_and_spread(a: SeedSummary, b: SeedSummary, key: str) -> Optional[tuple[float, float]]:
    """``a``'s mean minus ``b``'s for metric ``key``, and the standard error of that difference,
    ``sqrt(s_a^2 / n_a + s_b^2 / n_b)`` (sample standard deviations over the seeds); None when
    either lacks the metric."""
    if a.mean[key] is None or b.mean[key] is None:
        return None
    return a.mean[key] - b.mean[key], math.sqrt(a.std[key] ** 2 / a.n + b.std[key] ** 2 / b.n)


#: An effect counts as larger than the spread when it exceeds this many standard errors.
EFFECT_THRESHOLD_SE = 2.0


def seed_summary_table(summaries: Sequence[SeedSummary]) -> str:
    """Markdown: one row per cell, each metric as ``mean ± sample std`` over its n seeds."""
    header = ["dataset", "supervision", "method", "seeds"] + [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (1 + len(COLUMNS))) + "|"]
    for cell in summaries:
        cells = [cell.dataset, cell.supervision, cell.method, str(cell.n)]
        for key, _, decimals in COLUMNS:
            mean, std = cell.mean[key], cell.std[key]
            cells.append("-" if mean is None else f"{mean:.{decimals}f} ± {std:.{decimals}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def seeded_texture_effect_table(summaries: Sequence[SeedSummary], keys: Sequence[str] = ("pa_mpjpe_mm", "pa_mpvpe_mm", "psnr_db")) -> str:
    """Markdown: per dataset and mode, texture's effect on each metric of ``keys`` (mean with
    minus mean without), its standard error over the seeds, and whether |effect| exceeds
    :data:`EFFECT_THRESHOLD_SE` standard errors."""
    pairs: dict[tuple[str, str], dict[str, SeedSummary]] = {}
    for cell in summaries:
        pairs.setdefault((cell.dataset, cell.supervision), {})[cell.method] = cell
    titles = {key: title for key, title, _ in COLUMNS}
    decimals = {key: d for key, _, d in COLUMNS}
    header = ["dataset", "supervision", "seeds"] + [f"Δ {titles[key]} (± s.e.)" for key in keys] + [f"larger than {EFFECT_THRESHOLD_SE:g} s.e.?"]
    lines = [
        "Texture effect over seeds (mean with texture minus mean without; s.e. = standard error of that difference):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * len(keys) + ["---"]) + "|",
    ]
    for (dataset, supervision), methods in pairs.items():
        if WITH_TEXTURE not in methods or WITHOUT_TEXTURE not in methods:
            continue
        a, b = methods[WITH_TEXTURE], methods[WITHOUT_TEXTURE]
        cells, verdicts = [dataset, supervision, f"{a.n}/{b.n}"], []
        for key in keys:
            result = difference_and_spread(a, b, key)
            if result is None:
                cells.append("-")
                continue
            diff, se = result
            cells.append(f"{diff:+.{decimals[key]}f} ± {se:.{decimals[key]}f}")
            if min(a.n, b.n) < 2:
                verdicts.append(f"{titles[key]}: one seed, no spread")
            else:
                verdicts.append(f"{titles[key]}: {'yes' if abs(diff) > EFFECT_THRESHOLD_SE * se else 'no'}")
        lines.append("| " + " | ".join(cells + ["; ".join(verdicts)]) + " |")
    return "\n".join(lines) + "\n"


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
