"""The training objective: the weighted sum of the active loss terms at a given epoch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

import torch
from torch import Tensor, nn

from hifihr.losses.geometry import BASE_DISTANCES
from hifihr.losses.registry import LOSSES, LossTerm, MissingInputError
from hifihr.losses.schedule import WeightSchedule, WeightSpec, as_schedule


@dataclass(frozen=True)
class LossOutput:
    """The objective's value for one batch.

    Attributes:
        total: scalar, ``sum_k weights[k] * unweighted[k]`` (NaN/inf if any term is).
        weighted: term name -> scalar, the term times its weight (what ``total`` sums).
        unweighted: term name -> scalar, the term's own value (for logging).
        weights: term name -> the weight used at this epoch.
    """

    total: Tensor
    weighted: dict[str, Tensor]
    unweighted: dict[str, Tensor]
    weights: dict[str, float]

    def nonfinite_terms(self) -> list[str]:
        """Names of the terms whose value is NaN or infinite (one device sync)."""
        names = list(self.unweighted)
        if not names:
            return []
        finite = torch.isfinite(torch.stack([self.unweighted[n].detach().float() for n in names])).tolist()
        return [name for name, ok in zip(names, finite) if not ok]


class Objective(nn.Module):
    """Weighted sum of loss terms, weights by global epoch.

    Terms whose weight is 0 at an epoch are not computed and do not appear in the output.
    Frozen networks the terms need (VGG-19 for ``perceptual``, LPIPS for ``lpips_tex``) are
    submodules: ``objective.to(device)`` moves them. They are built here, for active terms only,
    unless injected through ``networks``.

    Args:
        weights: term name -> weight (a number, a :class:`WeightSchedule` or its JSON mapping),
            e.g. from :func:`~hifihr.losses.presets.resolve_weights`.
        base: "l1" or "l2", the elementwise distance of ``joint_2d``, ``joint_3d`` and ``vert_3d``.
        networks: term name -> network to use instead of building the term's default one.

    Raises:
        ValueError: unknown term name or base, a network for a term that takes none.
        MissingWeightsError: a network's pretrained weights are not in the cache.
    """

    def __init__(
        self,
        weights: Mapping[str, WeightSpec],
        *,
        base: str = "l1",
        networks: Optional[Mapping[str, nn.Module]] = None,
    ) -> None:
        super().__init__()
        if base not in BASE_DISTANCES:
            raise ValueError(f"base: expected one of {sorted(BASE_DISTANCES)}, got {base!r}")
        self.base = base
        self._terms: dict[str, LossTerm] = {name: LOSSES.get(name) for name in weights}
        self.schedules: dict[str, WeightSchedule] = {name: as_schedule(w) for name, w in weights.items()}
        networks = dict(networks or {})
        for name in networks:
            if name not in self._terms or self._terms[name].network is None:
                takes = [n for n, t in self._terms.items() if t.network is not None]
                raise ValueError(f"networks: {name!r} is not an active term that runs a network (those are: {takes})")
        self.networks = nn.ModuleDict(
            {
                name: networks[name] if name in networks else term.network()
                for name, term in self._terms.items()
                if term.network is not None
            }
        )

    @property
    def terms(self) -> tuple[str, ...]:
        """The active term names."""
        return tuple(self._terms)

    @property
    def needs_render(self) -> bool:
        """True when some active term reads the render."""
        return any(term.needs_render for term in self._terms.values())

    def needs_render_at(self, epoch: int) -> bool:
        """True when some term that reads the render has a non-zero weight at global epoch ``epoch``.

        A staged schedule (render terms at weight 0 in the first epochs) trains those epochs
        without drawing the hand, which the objective would not read.
        """
        weights = self.weights_at(epoch)
        return any(term.needs_render and weights[name] != 0.0 for name, term in self._terms.items())

    def required_fields(self) -> dict[str, tuple[str, ...]]:
        """Active term name -> the batch fields it reads."""
        return {name: term.required_fields for name, term in self._terms.items()}

    def check_fields(self, fields: Iterable[str]) -> None:
        """Raise :class:`MissingInputError` listing every active term whose batch fields are not all in ``fields``.

        Call it once before training with the fields a dataset's samples have.
        """
        fields = set(fields)
        problems = [
            f"{name!r} needs {missing}" for name, term in self._terms.items() if (missing := term.missing_batch_fields(fields))
        ]
        if problems:
            raise MissingInputError(
                f"active loss terms need batch fields the data lacks: {'; '.join(problems)} "
                f"(the data has: {', '.join(sorted(fields))}); drop those terms (config loss.drop) "
                "or enable the fields in the dataset options (e.g. masks, openpose)"
            )

    def weights_at(self, epoch: int) -> dict[str, float]:
        """Term name -> weight at global epoch ``epoch``."""
        return {name: schedule.at(epoch) for name, schedule in self.schedules.items()}

    def forward(self, pred: Any, batch: Mapping[str, Any], epoch: int) -> LossOutput:
        """Evaluate the terms with a non-zero weight at ``epoch``.

        Args:
            pred: a :class:`~hifihr.losses.prediction.Prediction`.
            batch: a batch dict (:mod:`hifihr.data`).
            epoch: the global epoch (selects the weights).

        Raises:
            MissingInputError: an active term's batch or prediction field is missing.
        """
        weights = {name: w for name, w in self.weights_at(epoch).items() if w != 0.0}
        unweighted: dict[str, Tensor] = {}
        for name in weights:
            term = self._terms[name]
            term.check_inputs(pred, batch)
            options: dict[str, Any] = {}
            if term.uses_base:
                options["base"] = self.base
            if term.network is not None:
                options["network"] = self.networks[name]
            unweighted[name] = term.fn(pred, batch, **options)
        weighted = {name: weights[name] * value for name, value in unweighted.items()}
        total = sum(weighted.values(), pred.joints3d.new_zeros(()))
        return LossOutput(total=total, weighted=weighted, unweighted=unweighted, weights=weights)

    def extra_repr(self) -> str:
        return f"base={self.base!r}, terms={list(self._terms)}"
