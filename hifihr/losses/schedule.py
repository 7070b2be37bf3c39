"""Loss weights by epoch: a constant or a piecewise-constant schedule.

A weight in a config is a number or ``{"values": [v0, v1, ...], "milestones": [m0, m1, ...]}``
with ``len(values) == len(milestones) + 1`` and strictly increasing milestones. At global epoch
``e`` the weight is ``values[i]`` where ``i`` is the number of milestones ``<= e``: ``v0`` before
``m0``, ``v(i+1)`` from ``m(i)`` on. Example: ``values=[1e-2, 1e-3, 1e-5], milestones=[10, 20]``
gives 1e-2 for epochs 1-9, 1e-3 for 10-19 and 1e-5 from 20 on.

The epoch is the *global* epoch counter, which continues across training stages (a fine-tuning
run that starts from the 250-epoch RHD pretraining begins at epoch 251), as in the reference,
whose ``lambda_*_list``/``lambda_*_steps`` pairs follow the same rule.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Mapping, Union


@dataclass(frozen=True)
class WeightSchedule:
    """A loss weight as a function of the global epoch (see the module docstring).

    Attributes:
        values: weights, >= 0; ``values[0]`` applies before the first milestone.
        milestones: global epochs, strictly increasing; ``values[i + 1]`` applies from
            ``milestones[i]`` on. Empty for a constant weight.
    """

    values: tuple[float, ...]
    milestones: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        values = tuple(self.values)
        milestones = tuple(self.milestones)
        if not values:
            raise ValueError("values: expected at least one weight, got []")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"values: expected finite numbers >= 0, got {list(values)}")
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise ValueError(f"milestones: expected whole epochs, got {list(milestones)}")
        if len(values) != len(milestones) + 1:
            raise ValueError(
                f"expected len(values) == len(milestones) + 1, got {len(values)} values "
                f"and {len(milestones)} milestones"
            )
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"milestones: expected strictly increasing epochs, got {list(milestones)}")
        object.__setattr__(self, "values", tuple(float(v) for v in values))
        object.__setattr__(self, "milestones", milestones)

    @classmethod
    def constant(cls, weight: float) -> "WeightSchedule":
        """The schedule that is ``weight`` at every epoch."""
        return cls((weight,), ())

    def at(self, epoch: int) -> float:
        """The weight at global epoch ``epoch``."""
        return self.values[bisect.bisect_right(self.milestones, epoch)]

    @property
    def is_constant(self) -> bool:
        """True when the schedule has no milestone."""
        return not self.milestones

    def to_json(self) -> float | dict[str, list]:
        """A number for a constant schedule, else ``{"values": [...], "milestones": [...]}``."""
        if self.is_constant:
            return self.values[0]
        return {"values": list(self.values), "milestones": list(self.milestones)}


#: What a weight may be given as: a number, a schedule, or its JSON mapping.
WeightSpec = Union[float, WeightSchedule, Mapping[str, list]]


def as_schedule(weight: WeightSpec) -> WeightSchedule:
    """Normalise a number, a :class:`WeightSchedule` or a ``{"values", "milestones"}`` mapping.

    Raises:
        ValueError: anything else, or an invalid schedule (the message says why).
    """
    if isinstance(weight, WeightSchedule):
        return weight
    if isinstance(weight, Mapping):
        unknown = sorted(set(weight) - {"values", "milestones"})
        if unknown or "values" not in weight:
            raise ValueError(
                f"a schedule is {{'values': [...], 'milestones': [...]}}, got keys {sorted(weight)}"
            )
        return WeightSchedule(tuple(weight["values"]), tuple(weight.get("milestones", ())))
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"expected a number or a schedule {{'values', 'milestones'}}, got {weight!r}")
    return WeightSchedule.constant(float(weight))
