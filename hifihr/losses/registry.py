"""Loss terms by name: ``register_loss`` fills :data:`LOSSES` at import time
(``LOSSES.get(name)``, ``LOSSES.names()``).

A loss is a pure function ``fn(pred, batch, **options) -> scalar tensor``, unweighted (the
:class:`~hifihr.losses.objective.Objective` applies weights). ``pred`` is a
:class:`~hifihr.losses.prediction.Prediction`, ``batch`` a batch dict of :mod:`hifihr.data`.
Options a term declares: ``base`` (``"l1"``/``"l2"``, the elementwise distance of the joint,
vertex and 2D terms) and ``network`` (a frozen network the term runs, built by the term's
``network`` factory unless one is injected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

from torch import Tensor, nn

from hifihr.losses.prediction import missing_field_hint
from hifihr.registry import Registry

LossFn = Callable[..., Tensor]


class MissingInputError(ValueError):
    """A loss term is active but the batch or the prediction lacks a field it reads."""


@dataclass(frozen=True)
class LossTerm:
    """A registered loss term.

    Attributes:
        name: registry name (the reference's loss key where there is one).
        fn: ``fn(pred, batch, **options) -> scalar``, unweighted.
        required_fields: batch fields the term reads (keys of :data:`hifihr.data.SAMPLE_FIELDS`).
        prediction_fields: :class:`Prediction` fields that must not be None; ``"render.rgb"``
            names a field of ``pred.render``.
        default_weight: the reference's default weight (``options/train_options.py``).
        description: one line, from the function's docstring.
        uses_base: the term takes ``base="l1"|"l2"`` (config ``loss.base``).
        network: builds the frozen network the term takes as ``network=``; None for none.
    """

    name: str
    fn: LossFn
    required_fields: tuple[str, ...]
    prediction_fields: tuple[str, ...]
    default_weight: float
    description: str
    uses_base: bool = False
    network: Optional[Callable[[], nn.Module]] = None

    @property
    def needs_render(self) -> bool:
        """True when the term reads ``pred.render``."""
        return any(field.split(".")[0] == "render" for field in self.prediction_fields)

    def missing_batch_fields(self, fields: Iterable[str]) -> list[str]:
        """The required batch fields absent from ``fields``."""
        present = set(fields)
        return [field for field in self.required_fields if field not in present]

    def missing_prediction_fields(self, pred: Any) -> list[str]:
        """The required prediction fields that ``pred`` has as None (or lacks)."""
        missing = []
        for dotted in self.prediction_fields:
            value = pred
            for part in dotted.split("."):
                value = getattr(value, part, None)
                if value is None:
                    break
            if value is None:
                missing.append(dotted)
        return missing

    def check_inputs(self, pred: Any, batch: Mapping[str, Any]) -> None:
        """Raise :class:`MissingInputError` naming this term and what ``pred``/``batch`` lack."""
        missing_batch = self.missing_batch_fields(batch.keys())
        if missing_batch:
            raise MissingInputError(
                f"loss {self.name!r} needs batch field(s) {missing_batch}, which this batch lacks "
                f"(it has: {', '.join(sorted(batch))}); drop the term (config loss.drop) or train "
                "on a dataset that provides them"
            )
        missing_pred = self.missing_prediction_fields(pred)
        if missing_pred:
            raise MissingInputError(
                f"loss {self.name!r} needs prediction field(s) {missing_pred}, which are None; "
                f"{missing_field_hint(missing_pred[0])}"
            )


#: Every loss term by name.
LOSSES: Registry[LossTerm] = Registry("loss")


def register_loss(
    name: str,
    *,
    weight: float,
    fields: Iterable[str] = (),
    prediction: Iterable[str] = (),
    uses_base: bool = False,
    network: Optional[Callable[[], nn.Module]] = None,
) -> Callable[[LossFn], LossFn]:
    """Decorator registering ``fn`` as the loss term ``name`` (see :class:`LossTerm`)."""

    def decorator(fn: LossFn) -> LossFn:
        doc = (fn.__doc__ or "").strip().splitlines()
        term = LossTerm(
            name=name,
            fn=fn,
            required_fields=tuple(fields),
            prediction_fields=tuple(prediction),
            default_weight=float(weight),
            description=doc[0] if doc else "",
            uses_base=uses_base,
            network=network,
        )
        LOSSES.register(name, term, description=term.description)
        return fn

    return decorator
