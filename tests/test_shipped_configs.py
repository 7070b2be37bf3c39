"""Every shipped config builds its model on the open hand and trains one step on a synthetic
batch: the named loss terms are the active ones, finite, and reach the heads the config trains
(and none it freezes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from hifihr.config import load_config
from hifihr.data import build_dataset, collate
from hifihr.data.synthetic import generate
from hifihr.engine.trainer import freeze_groups
from hifihr.losses import Objective
from hifihr.losses.perceptual import VGG19_CONV3_3_END, FrozenNetwork
from hifihr.models import build_model

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "config").rglob("*.json"))
# The licensed hand files are not here: run each config on the open hand, from scratch, and
# render without supersampling to keep the test fast. Nothing else of the config changes.
OVERRIDES = ["hand.model=open_hand", "hand.assets_dir=null", "hand.mano_dir=null", "model.pretrained=false", "render.supersample=1"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("configs") / "synthetic", num_train=2, num_eval=1, seed=2, show_progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(p.parents[1])) for p in CONFIGS])
def test_config_builds_and_trains_a_step_on_the_open_hand(path, synthetic):
    cfg = load_config(path, overrides=OVERRIDES)
    torch.manual_seed(0)
    model = build_model(cfg.hand, cfg.model, cfg.render)
    freeze_groups(model, cfg.init.freeze, cfg.init.freeze_norm)
    weights = cfg.loss.resolved_weights()
    # VGG-19's architecture with random weights: nothing downloads in tests.
    networks = {"perceptual": FrozenNetwork(torchvision.models.vgg19().features[:VGG19_CONV3_3_END])} if "perceptual" in weights else {}
    objective = Objective(weights, base=cfg.loss.base, networks=networks)
    samples = build_dataset("synthetic", synthetic, "train", image_size=cfg.render.image_size, masks=True, openpose=True)
    batch = collate([samples[0], samples[1]])
    objective.check_fields(batch.keys())

    pred = model(batch["image"], batch["K"], batch["root"], render=objective.needs_render)
    out = objective(pred, batch, epoch=cfg.train.start_epoch)
    out.total.backward()

    active = {name for name, w in out.weights.items() if w != 0}
    assert active and set(out.weighted) == active
    assert torch.isfinite(out.total) and all(torch.isfinite(v) for v in out.weighted.values())
    assert torch.allclose(out.total, sum(out.weighted.values()))
    for group in cfg.init.freeze:
        assert all(p.grad is None for p in getattr(model, group).parameters()), group
    if "pose_head" not in cfg.init.freeze:
        assert model.pose_head.layers[-1].weight.grad.abs().sum() > 0
    if objective.needs_render and model.texture_head is not None:
        assert model.texture_head.layers[-1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.parent.name in ("FreiHAND", "HO3D", "RHD")], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reference_configs_use_the_reference_efficientnet(path):
    # The reference's configs all train its TF-ported EfficientNet-b3 (pretrain 'effb3').
    assert load_config(path).model.backbone == "tf_efficientnet_b3"
