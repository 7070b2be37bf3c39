"""The generic registry (register, get with a suggestion, names, descriptions), and every registry
of the project looped over as timm's tests loop over ``list_models``."""

from __future__ import annotations

import pytest

from hifihr.data import DATASETS
from hifihr.engine.optim import OPTIMIZERS
from hifihr.hand import HAND_MODELS
from hifihr.losses import LOSSES, SUPERVISION_PRESETS
from hifihr.models import ENCODERS
from hifihr.registry import DuplicateNameError, Registry, UnknownNameError, closest, did_you_mean
from hifihr.render import BACKENDS, SHADINGS

PROJECT_REGISTRIES = [HAND_MODELS, ENCODERS, BACKENDS, SHADINGS, LOSSES, DATASETS, OPTIMIZERS, SUPERVISION_PRESETS]
ENTRIES = [(registry, name) for registry in PROJECT_REGISTRIES for name in registry.names()]


def test_register_returns_the_value_and_get_finds_it():
    colours = Registry("colour")
    assert colours.register("red", (1.0, 0.0, 0.0), description="pure red") == (1.0, 0.0, 0.0)
    assert colours.get("red") == (1.0, 0.0, 0.0)
    assert colours.entry("red").description == "pure red"
    assert "red" in colours
    assert "blue" not in colours
    assert len(colours) == 1


def test_the_decorator_form_registers_and_describes_by_the_docstring():
    kinds = Registry("kind")

    @kinds.register("thing")
    def make_thing():
        """Make a thing.

        More text that is not the description.
        """

    assert kinds.get("thing") is make_thing
    assert kinds.describe() == {"thing": "Make a thing."}


def test_names_are_sorted_whatever_the_registration_order():
    letters = Registry("letter")
    for name in ("c", "a", "b"):
        letters.register(name, name.upper())
    assert letters.names() == ["a", "b", "c"]
    assert list(letters.describe()) == ["a", "b", "c"]


def test_a_second_registration_of_a_name_is_refused():
    losses = Registry("loss")
    losses.register("l1", abs)
    with pytest.raises(DuplicateNameError, match="loss 'l1' is registered twice"):
        losses.register("l1", round)
    assert losses.get("l1") is abs


def test_an_unknown_name_gives_the_closest_and_every_valid_one():
    losses = Registry("loss")
    for name in ("texture", "joint_3d"):
        losses.register(name, name)
    with pytest.raises(UnknownNameError) as info:
        losses.get("textrue")
    assert str(info.value) == "unknown loss 'textrue' (did you mean 'texture'?); valid names: joint_3d, texture"
    with pytest.raises(UnknownNameError) as info:
        losses.get("zzz")
    assert str(info.value) == "unknown loss 'zzz'; valid names: joint_3d, texture"
    assert isinstance(info.value, ValueError)  # callers that catch ValueError keep working


def test_the_suggestion_is_difflibs_closest_name():
    assert closest("freihnd", ["rhd", "freihand", "ho3d_v2"]) == "freihand"
    assert closest("xyz", ["rhd", "freihand"]) is None
    assert did_you_mean("mpos", ["mpose", "mshape"]) == " (did you mean 'mpose'?)"
    assert did_you_mean("xyz", ["mpose"]) == ""


@pytest.mark.parametrize("registry", PROJECT_REGISTRIES, ids=lambda r: r.kind)
def test_each_project_registry_is_filled_and_refuses_unknown_names(registry):
    assert len(registry) > 0
    unknown = registry.names()[0] + "_unknown"
    with pytest.raises(UnknownNameError, match=f"unknown {registry.kind} '{unknown}'"):
        registry.get(unknown)


@pytest.mark.parametrize("registry, name", ENTRIES, ids=[f"{r.kind}:{n}" for r, n in ENTRIES])
def test_each_registered_name_has_a_one_line_description(registry, name):
    description = registry.entry(name).description
    assert description
    assert "\n" not in description
