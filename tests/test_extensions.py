"""Each kind of extension (loss term, dataset, encoder, renderer backend) defined in a user's own
module outside the package, named in a config's ``imports``, and trained for one step."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from hifihr.config import ConfigError, config_from_dict
from hifihr.data import DATASETS
from hifihr.engine import Trainer
from hifihr.losses import LOSSES
from hifihr.models import ENCODERS
from hifihr.render import BACKENDS
from test_engine_setup import tiny_config, tiny_root  # noqa: F401  (fixture)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """``write(name, source)`` writes ``<tmp>/<name>.py`` on ``sys.path``; the registries and
    ``sys.modules`` get back their entries afterwards, so other tests see the built-in names only."""
    for registry in (LOSSES, DATASETS, ENCODERS, BACKENDS):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def one_step(cfg) -> tuple[Trainer, object, object]:
    """A trainer for ``cfg`` on the CPU, its first step's result and prediction."""
    trainer = Trainer(cfg, device="cpu", tensorboard=False)
    trainer.set_train_mode()
    result, pred = trainer.train_step(next(trainer._epoch_batches(cfg.train.start_epoch, 0)), cfg.train.start_epoch)
    return trainer, result, pred


def test_a_missing_import_names_the_key():
    with pytest.raises(ConfigError, match=r"imports.0: cannot import module 'no_such_module_here'"):
        config_from_dict({"imports": ["no_such_module_here"]})


def test_a_name_registered_by_no_import_is_unknown():
    with pytest.raises(ConfigError, match=r"loss.add.joint_spread: unknown loss 'joint_spread'"):
        config_from_dict({"loss": {"add": {"joint_spread": 1.0}}})


def test_a_user_loss_term_trains(tiny_root, user_module):
    module = user_module(
        "user_loss_term",
        '''
        from hifihr.losses import register_loss

        @register_loss("joint_spread", weight=1.0)
        def joint_spread(pred, batch):
            """Mean squared distance of the predicted keypoints from the root, square metres."""
            return pred.joints3d.square().sum(-1).mean()
        ''',
    )
    cfg = tiny_config(tiny_root, name="user_loss", dataset="synthetic", imports=[module], loss={"add": {"joint_spread": 0.5}}, data={"val": []})
    _, result, pred = one_step(cfg)
    expected = float(pred.joints3d.detach().float().square().sum(-1).mean())
    assert not result.skipped
    assert result.terms["joint_spread"] == pytest.approx(expected, rel=1e-5)
    assert result.weighted["joint_spread"] == pytest.approx(0.5 * expected, rel=1e-5)


def test_a_user_dataset_trains(tiny_root, user_module):
    module = user_module(
        "user_dataset",
        '''
        from hifihr.data import register_dataset
        from hifihr.data.freihand import FreiHAND

        @register_dataset("first_samples", "the first samples of a FreiHAND-layout folder", num_verts=None)
        class FirstSamples(FreiHAND):
            """The first ``limit`` samples of a FreiHAND-layout folder."""

            def __init__(self, root, split, *, limit=2, **options):
                super().__init__(root, split, **options)
                self.limit = limit

            def __len__(self):
                return min(self.limit, super().__len__())
        ''',
    )
    spec = {"name": "first_samples", "root": str(tiny_root / "synthetic"), "split": "train"}
    spec["options"] = {"masks": True, "openpose": False, "verts": False, "augment": False, "limit": 2}
    cfg = tiny_config(tiny_root, name="user_dataset", dataset="synthetic", imports=[module], data={"train": [spec], "val": [], "batch_size": 2})
    trainer, result, _ = one_step(cfg)
    (named,) = trainer.train_sets
    assert type(named.dataset).__name__ == "FirstSamples"
    assert len(named.dataset) == 2
    assert trainer.batches_per_epoch == 1
    assert not result.skipped


def test_a_user_encoder_trains(tiny_root, user_module):
    module = user_module(
        "user_encoder",
        """
        from hifihr.models import ENCODERS, EncoderSpec

        ENCODERS.register(
            "resnet10t_avg", EncoderSpec("resnet10t", low_index=2, pooling="avg"), description="ResNet-10-T, average pooling"
        )
        """,
    )
    cfg = tiny_config(tiny_root, name="user_encoder", dataset="synthetic", imports=[module], model={"backbone": "resnet10t_avg"}, data={"val": []})
    trainer = Trainer(cfg, device="cpu", tensorboard=False)
    encoder = trainer.model.encoder
    assert encoder.backbone.pretrained_cfg["architecture"] == "resnet10t"
    assert encoder.num_features == 512
    before = encoder.backbone.conv1[0].weight.detach().clone()
    trainer.set_train_mode()
    result, _ = trainer.train_step(next(trainer._epoch_batches(1, 0)), 1)
    assert not result.skipped
    assert not torch.equal(encoder.backbone.conv1[0].weight, before)


def test_a_user_renderer_backend_trains_as_the_backend_it_wraps(tiny_root, user_module):
    module = user_module(
        "user_backend",
        '''
        from hifihr.render import BACKENDS
        from hifihr.render.backends import TorchBackend

        @BACKENDS.register("counting_torch")
        class CountingBackend(TorchBackend):
            """The built-in rasterizer, counting its calls."""

            calls = 0

            def rasterize(self, verts_cam, faces, K, image_size):
                type(self).calls += 1
                return super().rasterize(verts_cam, faces, K, image_size)
        ''',
    )
    losses = {}
    for backend in ("torch", "counting_torch"):
        render = {"image_size": 64, "supersample": 1, "shading": "albedo", "backend": backend}
        cfg = tiny_config(tiny_root, name=f"user_backend_{backend}", dataset="synthetic", imports=[module], render=render, data={"val": []})
        _, result, _ = one_step(cfg)
        losses[backend] = result.terms
    assert sys.modules[module].CountingBackend.calls > 0
    assert losses["counting_torch"] == losses["torch"]
