"""Every shipped config against the reference run it mirrors, value by value.

Each row: (our config, key, our value, reference file, reference entry, reference value,
relation). The reference values were read from github:viridityzhu/HiFiHR at 68b4d03 (files under
its ``config/``; defaults from ``options/train_options.py``; behaviour from ``train_hrnet.py``
and ``utils/train_utils.py``). ``relation`` is ``"="`` where our value is the reference's
(checked), otherwise why it differs or how it was derived. A config that drifts from its row
fails; so does a shipped config, an active loss term or a run setting without a row.

Keys: ``loss.<term>`` is the term's weight, a number or (values, milestones) by global epoch
(a loss-weight milestone applies from its epoch, as the reference's lambda steps);
``loss.terms`` the active terms; other keys are config fields. Learning-rate milestones apply
after their epoch, as the reference's MultiStepLR stepped at each epoch end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hifihr.config import Config, load_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"

RHD = "RHD/fully_superv_rhd_baseline_2.json"
F_FULL = "FreiHAND/full_rhd_freihand.json"
F_FULL_NT = "FreiHAND/full_rhd_freihand_no_tex.json"
F_WEAK = "FreiHAND/weak_rhd_freihand.json"
F_WEAK_NT = "FreiHAND/weak_rhd_freihand_no_tex.json"
F_SELF = "FreiHAND/self_superv_freihand_w_texture.json"
F_SELF_NT = "FreiHAND/self_superv_freihand_no_texture.json"
F_TEX = "FreiHAND/weak_rhd_freihand_train_tex.json"
F_TEX_BEST = "FreiHAND/weak_rhd_freihand_train_tex_best.json"
H_FULL = "HO3D/full_rhd_ho3d.json"
H_WEAK = "HO3D/weak_rhd_ho3d.json"
H_SELF = "HO3D/self_superv_ho3d_w_texture.json"
OPTIONS = "options/train_options.py"
FREEZE = "utils/train_utils.py freeze_model_modules (only_train_texture)"

POSE_FULL = ((1e-2, 1e-3, 1e-5), (10, 20))
SHAPE = ((0.1, 1e-3, 1e-5), (270, 300))
TEX_FULL = ((5e-3, 5e-5, 5e-7), (260, 270))
POSE_HO3D = ((1e-2, 1e-3, 1e-4, 1e-5), (260, 270, 280))
GEOMETRY = ("encoder", "trunk", "pose_head", "shape_head")
RHD_CKPT = "outputs/rhd_pretrain/checkpoints/last.pt"
FROM_RHD = "fine-tuning continues the global epoch after the 250-epoch RHD pretraining"
PASSED = "replaced by the checkpoint's scheduler state, whose milestones had all passed: constant"

# fmt: off
ROWS: list[tuple[str, str, Any, str, str, Any, str]] = [
    # ---------------------------------------------------------------- RHD pretraining
    ("RHD/pretrain.json", "loss.terms", ("bone_direc_3d", "joint_3d", "mpose"), RHD, "losses", ("bone_direc_3d", "joint_3d", "mpose"), "="),
    ("RHD/pretrain.json", "loss.joint_3d", 10.0, RHD, "lambda_j3d", 10, "="),
    ("RHD/pretrain.json", "loss.bone_direc_3d", 0.1, OPTIONS, "lambda_bone_direc_3d default", 0.1, "="),
    ("RHD/pretrain.json", "loss.mpose", ((1e-2, 1e-3, 1e-5, 1e-2, 1e-3, 1e-4), (10, 20, 180, 200, 220)), RHD, "lambda_pose_list/steps", ((0.01, 0.001, 1e-05, 0.01, 0.001, 0.0001), (10, 20, 180, 200, 220)), "="),
    ("RHD/pretrain.json", "loss.base", "l1", RHD, "base_loss_fn", "L1", "same, lower case"),
    ("RHD/pretrain.json", "optim.lr", 1e-3, RHD, "init_lr", 0.001, "="),
    ("RHD/pretrain.json", "optim.lr_milestones", (80, 120, 160, 200, 230), RHD, "lr_steps", (80, 120, 160, 200, 230), "="),
    ("RHD/pretrain.json", "optim.lr_gamma", 0.5, RHD, "lr_gamma", 0.5, "="),
    ("RHD/pretrain.json", "train.start_epoch", 1, RHD, "pretrain", "effb3", "fresh network, ImageNet encoder"),
    ("RHD/pretrain.json", "train.epochs", 250, RHD, "total_epochs", 250, "="),
    ("RHD/pretrain.json", "data.batch_size", 80, RHD, "train_batch", 80, "="),
    ("RHD/pretrain.json", "data.val_batch_size", 32, RHD, "val_batch", 32, "="),
    ("RHD/pretrain.json", "train.eval_interval", 5, RHD, "save_interval", 5, "="),
    ("RHD/pretrain.json", "init.checkpoint", None, RHD, "pretrain", "effb3", "no checkpoint: ImageNet weights only"),
    ("RHD/pretrain.json", "init.freeze", (), RHD, "only_train_texture default", False, "nothing frozen"),
    ("RHD/pretrain.json", "model.use_mean_shape", True, RHD, "use_mean_shape", True, "="),
    ("RHD/pretrain.json", "model.texture", False, RHD, "render", False, "="),
    # ---------------------------------------------------------------- FreiHAND full
    ("FreiHAND/full.json", "loss.terms", ("bone_direc_3d", "edge_length", "joint_3d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture", "vert_3d"), F_FULL, "losses", ("bone_direc_3d", "edge_length", "joint_3d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture", "vert_3d"), "="),
    ("FreiHAND/full.json", "loss.joint_3d", 200.0, F_FULL, "lambda_j3d", 200, "="),
    ("FreiHAND/full.json", "loss.vert_3d", 150.0, F_FULL, "lambda_vert_3d", 150, "="),
    ("FreiHAND/full.json", "loss.edge_length", 100.0, F_FULL, "lambda_edge_len", 100, "="),
    ("FreiHAND/full.json", "loss.bone_direc_3d", 6.0, F_FULL, "lambda_bone_direc_3d", 6, "="),
    ("FreiHAND/full.json", "loss.texture", 0.02, F_FULL, "lambda_texture", 0.02, "="),
    ("FreiHAND/full.json", "loss.mrgb", 2e-3, F_FULL, "lambda_mrgb", 0.002, "="),
    ("FreiHAND/full.json", "loss.ssim_tex", 0.01, F_FULL, "lambda_ssim_tex", 0.01, "="),
    ("FreiHAND/full.json", "loss.perceptual", 1e-8, F_FULL, "lambda_percep", 1e-08, "="),
    ("FreiHAND/full.json", "loss.sil", 8e-4, F_FULL, "lambda_silhouette", 0.0008, "="),
    ("FreiHAND/full.json", "loss.mpose", POSE_FULL, F_FULL, "lambda_pose_list/steps", POSE_FULL, "="),
    ("FreiHAND/full.json", "loss.mshape", SHAPE, F_FULL, "lambda_shape_list/steps", SHAPE, "="),
    ("FreiHAND/full.json", "loss.mtex", TEX_FULL, F_FULL, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("FreiHAND/full.json", "optim.lr", 1e-3, F_FULL, "init_lr", 0.001, "="),
    ("FreiHAND/full.json", "optim.lr_milestones", (300, 400, 520), F_FULL, "force_init_lr + pretrain_model", (1e-6, "texturehand_520.t7"), "manual restarts at 1e-3, 1e-4, 5e-5 (dates not recorded: 300, 400 chosen) and 1e-6 resumed from epoch 520"),
    ("FreiHAND/full.json", "optim.lr_gamma", (0.1, 0.5, 0.02), F_FULL, "force_init_lr restarts", (1e-3, 1e-4, 5e-5, 1e-6), "ratios of the restart rates"),
    ("FreiHAND/full.json", "train.start_epoch", 251, F_FULL, "pretrain_model (history c4f78e5)", "outputs/RHD/baseline_2/model/texturehand_latest.t7", FROM_RHD),
    ("FreiHAND/full.json", "train.epochs", 600, F_FULL, "total_epochs", 600, "="),
    ("FreiHAND/full.json", "data.batch_size", 48, F_FULL, "train_batch", 48, "="),
    ("FreiHAND/full.json", "data.val_batch_size", 16, F_FULL, "val_batch", 16, "="),
    ("FreiHAND/full.json", "train.eval_interval", 10, F_FULL, "save_interval", 10, "="),
    ("FreiHAND/full.json", "init.checkpoint", RHD_CKPT, F_FULL, "pretrain_model (history c4f78e5)", "outputs/RHD/baseline_2/model/texturehand_latest.t7", "our RHD run's last checkpoint"),
    ("FreiHAND/full.json", "init.freeze", (), F_FULL, "only_train_texture default", False, "nothing frozen"),
    ("FreiHAND/full.json", "model.texture", True, F_FULL, "render", True, "="),
    ("FreiHAND/full.json", "model.light", "directional", F_FULL, "light_estimation", True, "the reference's light head: colour and direction"),
    # ---------------------------------------------------------------- FreiHAND full, no texture
    ("FreiHAND/full_no_tex.json", "loss.terms", ("bone_direc_3d", "edge_length", "joint_3d", "mpose", "mshape", "vert_3d"), F_FULL_NT, "losses", ("bone_direc_3d", "edge_length", "joint_3d", "mpose", "mshape", "vert_3d"), "="),
    ("FreiHAND/full_no_tex.json", "loss.joint_3d", 200.0, F_FULL_NT, "lambda_j3d", 200, "="),
    ("FreiHAND/full_no_tex.json", "loss.vert_3d", 200.0, F_FULL_NT, "lambda_vert_3d", 200, "="),
    ("FreiHAND/full_no_tex.json", "loss.edge_length", 100.0, F_FULL_NT, "lambda_edge_len", 100, "="),
    ("FreiHAND/full_no_tex.json", "loss.bone_direc_3d", 8.0, F_FULL_NT, "lambda_bone_direc_3d", 8, "="),
    ("FreiHAND/full_no_tex.json", "loss.mpose", POSE_FULL, F_FULL_NT, "lambda_pose_list/steps", POSE_FULL, "="),
    ("FreiHAND/full_no_tex.json", "loss.mshape", SHAPE, F_FULL_NT, "lambda_shape_list/steps", SHAPE, "="),
    ("FreiHAND/full_no_tex.json", "optim.lr", 1e-3, F_FULL_NT, "init_lr", 0.001, "="),
    ("FreiHAND/full_no_tex.json", "optim.lr_milestones", (300,), F_FULL_NT, "force_init_lr", 0.0001, "manual restart at 1e-4 (date not recorded: 300 chosen)"),
    ("FreiHAND/full_no_tex.json", "optim.lr_gamma", 0.1, F_FULL_NT, "force_init_lr / init_lr", 0.1, "="),
    ("FreiHAND/full_no_tex.json", "train.start_epoch", 251, F_FULL_NT, "pretrain_model", "fully_rhd_no_tex/model/texturehand_latest.t7", FROM_RHD),
    ("FreiHAND/full_no_tex.json", "train.epochs", 600, F_FULL_NT, "total_epochs", 600, "="),
    ("FreiHAND/full_no_tex.json", "data.batch_size", 72, F_FULL_NT, "train_batch", 72, "="),
    ("FreiHAND/full_no_tex.json", "data.val_batch_size", 32, F_FULL_NT, "val_batch", 32, "="),
    ("FreiHAND/full_no_tex.json", "train.eval_interval", 10, F_FULL_NT, "save_interval", 10, "="),
    ("FreiHAND/full_no_tex.json", "init.checkpoint", RHD_CKPT, F_FULL_NT, "pretrain_model", "fully_rhd_no_tex/model/texturehand_latest.t7", "our RHD run's last checkpoint (the reference resumed its own run)"),
    ("FreiHAND/full_no_tex.json", "init.freeze", (), F_FULL_NT, "only_train_texture default", False, "nothing frozen"),
    ("FreiHAND/full_no_tex.json", "model.texture", False, F_FULL_NT, "render", False, "="),
    # ---------------------------------------------------------------- FreiHAND weak
    ("FreiHAND/weak.json", "loss.terms", ("bone_direc", "joint_2d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture"), F_WEAK, "losses", ("bone_direc", "joint_2d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture"), "="),
    ("FreiHAND/weak.json", "loss.joint_2d", 0.01, F_WEAK, "lambda_j2d_gt_list", 0.01, "="),
    ("FreiHAND/weak.json", "loss.bone_direc", 0.1, F_WEAK, "lambda_bone_direc", 0.1, "="),
    ("FreiHAND/weak.json", "loss.texture", 0.01, F_WEAK, "lambda_texture", 0.01, "="),
    ("FreiHAND/weak.json", "loss.mrgb", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("FreiHAND/weak.json", "loss.ssim_tex", 2e-3, F_WEAK, "lambda_ssim_tex", 0.002, "="),
    ("FreiHAND/weak.json", "loss.perceptual", 1e-8, F_WEAK, "lambda_percep", 1e-08, "="),
    ("FreiHAND/weak.json", "loss.sil", 8e-4, F_WEAK, "lambda_silhouette", 0.0008, "="),
    ("FreiHAND/weak.json", "loss.mpose", POSE_FULL, F_WEAK, "lambda_pose_list/steps", POSE_FULL, "="),
    ("FreiHAND/weak.json", "loss.mshape", SHAPE, F_WEAK, "lambda_shape_list/steps", SHAPE, "="),
    ("FreiHAND/weak.json", "loss.mtex", TEX_FULL, F_WEAK, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("FreiHAND/weak.json", "optim.lr", 1e-3, F_WEAK, "init_lr", 0.001, "="),
    ("FreiHAND/weak.json", "optim.lr_milestones", (300, 400), F_WEAK, "force_init_lr", 5e-05, "manual restarts at 1e-4 and 5e-5 (dates not recorded: 300, 400 chosen)"),
    ("FreiHAND/weak.json", "optim.lr_gamma", (0.1, 0.5), F_WEAK, "force_init_lr restarts", (1e-3, 1e-4, 5e-5), "ratios of the restart rates"),
    ("FreiHAND/weak.json", "train.start_epoch", 251, F_WEAK, "pretrain_model", "outputs/freihand/weakly_rhd/model/texturehand_latest.t7", FROM_RHD),
    ("FreiHAND/weak.json", "train.epochs", 500, F_WEAK, "total_epochs", 500, "="),
    ("FreiHAND/weak.json", "data.batch_size", 48, F_WEAK, "train_batch", 48, "="),
    ("FreiHAND/weak.json", "data.val_batch_size", 16, F_WEAK, "val_batch", 16, "="),
    ("FreiHAND/weak.json", "train.eval_interval", 10, F_WEAK, "save_interval", 10, "="),
    ("FreiHAND/weak.json", "init.checkpoint", RHD_CKPT, F_WEAK, "pretrain_model", "outputs/freihand/weakly_rhd/model/texturehand_latest.t7", "our RHD run's last checkpoint (the reference resumed its own run)"),
    ("FreiHAND/weak.json", "init.freeze", (), F_WEAK, "only_train_texture default", False, "nothing frozen"),
    ("FreiHAND/weak.json", "model.texture", True, F_WEAK, "render", True, "="),
    ("FreiHAND/weak.json", "model.light", "directional", F_WEAK, "light_estimation", True, "the reference's light head: colour and direction"),
    # ---------------------------------------------------------------- FreiHAND weak, no texture
    ("FreiHAND/weak_no_tex.json", "loss.terms", ("bone_direc", "joint_2d", "mpose", "mshape"), F_WEAK_NT, "losses", ("bone_direc", "joint_2d", "mpose", "mshape"), "="),
    ("FreiHAND/weak_no_tex.json", "loss.joint_2d", 0.01, F_WEAK_NT, "lambda_j2d_gt_list", 0.01, "="),
    ("FreiHAND/weak_no_tex.json", "loss.bone_direc", 0.1, F_WEAK_NT, "lambda_bone_direc", 0.1, "="),
    ("FreiHAND/weak_no_tex.json", "loss.mpose", POSE_FULL, F_WEAK_NT, "lambda_pose_list/steps", POSE_FULL, "="),
    ("FreiHAND/weak_no_tex.json", "loss.mshape", SHAPE, F_WEAK_NT, "lambda_shape_list/steps", SHAPE, "="),
    ("FreiHAND/weak_no_tex.json", "optim.lr", 1e-3, F_WEAK_NT, "init_lr", 0.001, "="),
    ("FreiHAND/weak_no_tex.json", "optim.lr_milestones", (300,), F_WEAK_NT, "force_init_lr", 0.0001, "manual restart at 1e-4 (date not recorded: 300 chosen)"),
    ("FreiHAND/weak_no_tex.json", "optim.lr_gamma", 0.1, F_WEAK_NT, "force_init_lr / init_lr", 0.1, "="),
    ("FreiHAND/weak_no_tex.json", "train.start_epoch", 251, F_WEAK_NT, "pretrain_model", "outputs/freihand/weakly_rhd_no_tex/model/texturehand_latest.t7", FROM_RHD),
    ("FreiHAND/weak_no_tex.json", "train.epochs", 500, F_WEAK_NT, "total_epochs", 500, "="),
    ("FreiHAND/weak_no_tex.json", "data.batch_size", 72, F_WEAK_NT, "train_batch", 72, "="),
    ("FreiHAND/weak_no_tex.json", "data.val_batch_size", 32, F_WEAK_NT, "val_batch", 32, "="),
    ("FreiHAND/weak_no_tex.json", "train.eval_interval", 10, F_WEAK_NT, "save_interval", 10, "="),
    ("FreiHAND/weak_no_tex.json", "init.checkpoint", RHD_CKPT, F_WEAK_NT, "pretrain_model", "outputs/freihand/weakly_rhd_no_tex/model/texturehand_latest.t7", "our RHD run's last checkpoint (the reference resumed its own run)"),
    ("FreiHAND/weak_no_tex.json", "init.freeze", (), F_WEAK_NT, "only_train_texture default", False, "nothing frozen"),
    ("FreiHAND/weak_no_tex.json", "model.texture", False, F_WEAK_NT, "render", False, "="),
    # ---------------------------------------------------------------- FreiHAND self
    ("FreiHAND/self.json", "loss.terms", ("mpose", "mrgb_self", "mshape", "mtex", "open_2dj", "open_bone_direc", "perceptual", "ssim_tex_self", "texture_self"), F_SELF, "losses", ("mpose", "mrgb_self", "mshape", "mtex", "open_2dj", "open_bone_direc", "perceptual", "ssim_tex_self", "texture_self"), "="),
    ("FreiHAND/self.json", "loss.open_2dj", 1e-3, F_SELF, "lambda_j2d", 0.001, "="),
    ("FreiHAND/self.json", "loss.open_bone_direc", 0.2, F_SELF, "lambda_bone_direc", 0.2, "="),
    ("FreiHAND/self.json", "loss.texture_self", 3e-3, OPTIONS, "lambda_texture default", 0.003, "="),
    ("FreiHAND/self.json", "loss.mrgb_self", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("FreiHAND/self.json", "loss.ssim_tex_self", 1e-3, OPTIONS, "lambda_ssim_tex default", 0.001, "="),
    ("FreiHAND/self.json", "loss.perceptual", 1e-6, F_SELF, "lambda_percep", 1e-06, "="),
    ("FreiHAND/self.json", "loss.mpose", ((1e-3, 1e-4, 1e-4), (260, 280)), F_SELF, "lambda_pose_list/steps", ((0.001, 0.0001, 0.0001), (260, 280)), "="),
    ("FreiHAND/self.json", "loss.mshape", SHAPE, F_SELF, "lambda_shape_list/steps", SHAPE, "="),
    ("FreiHAND/self.json", "loss.mtex", ((3e-3, 3e-5, 3e-7), (260, 270)), F_SELF, "lambda_tex_reg_list/steps", ((0.003, 3e-05, 3e-07), (260, 270)), "="),
    ("FreiHAND/self.json", "optim.lr", 1e-3, F_SELF, "init_lr", 0.001, "="),
    ("FreiHAND/self.json", "optim.lr_milestones", (), F_SELF, "lr_steps (force_init_lr -1)", (50, 80, 160, 200, 300, 350, 400, 450, 500), PASSED),
    ("FreiHAND/self.json", "train.start_epoch", 251, F_SELF, "pretrain_model", "self_rhd_new/texture/model/texturehand_280.t7", "the reference resumed its own run (started from the RHD pretraining) at 280"),
    ("FreiHAND/self.json", "train.epochs", 600, F_SELF, "total_epochs", 600, "="),
    ("FreiHAND/self.json", "data.batch_size", 50, F_SELF, "train_batch", 50, "="),
    ("FreiHAND/self.json", "data.val_batch_size", 8, F_SELF, "val_batch", 8, "="),
    ("FreiHAND/self.json", "train.eval_interval", 10, F_SELF, "save_interval", 10, "="),
    ("FreiHAND/self.json", "init.checkpoint", RHD_CKPT, F_SELF, "pretrain_model", "self_rhd_new/texture/model/texturehand_280.t7", "our RHD run's last checkpoint"),
    ("FreiHAND/self.json", "init.freeze", (), F_SELF, "only_train_texture default", False, "nothing frozen"),
    ("FreiHAND/self.json", "model.texture", True, F_SELF, "render", True, "="),
    ("FreiHAND/self.json", "model.light", "directional", F_SELF, "light_estimation", True, "the reference's light head: colour and direction"),
    # ---------------------------------------------------------------- FreiHAND self, no texture
    ("FreiHAND/self_no_tex.json", "loss.terms", ("mpose", "mshape", "open_2dj", "open_bone_direc"), F_SELF_NT, "losses", ("mpose", "mshape", "mtex", "open_2dj", "open_bone_direc"), "mtex dropped: no texture head, no effect"),
    ("FreiHAND/self_no_tex.json", "loss.open_2dj", 1e-3, F_SELF_NT, "lambda_j2d", 0.001, "="),
    ("FreiHAND/self_no_tex.json", "loss.open_bone_direc", 0.2, F_SELF_NT, "lambda_bone_direc", 0.2, "="),
    ("FreiHAND/self_no_tex.json", "loss.mpose", ((1e-3, 1e-3, 1e-4, 1e-4, 1e-5), (260, 280, 300, 350)), F_SELF_NT, "lambda_pose_list/steps", ((0.001, 0.001, 0.0001, 0.0001, 1e-05), (260, 280, 300, 350)), "="),
    ("FreiHAND/self_no_tex.json", "loss.mshape", ((0.1, 1e-3, 1e-3), (270, 300)), F_SELF_NT, "lambda_shape_list/steps", ((0.1, 0.001, 0.001), (270, 300)), "="),
    ("FreiHAND/self_no_tex.json", "optim.lr", 2.5e-4, F_SELF_NT, "force_init_lr", 0.00025, "="),
    ("FreiHAND/self_no_tex.json", "optim.lr_milestones", (), F_SELF_NT, "lr_steps", (50, 80, 110, 160, 200, 300, 350, 400, 450, 500, 550, 600, 650), PASSED),
    ("FreiHAND/self_no_tex.json", "train.start_epoch", 251, F_SELF_NT, "pretrain_model", "self_rhd_new/no_texture/model/texturehand_latest.t7", FROM_RHD),
    ("FreiHAND/self_no_tex.json", "train.epochs", 1000, F_SELF_NT, "total_epochs", 1000, "="),
    ("FreiHAND/self_no_tex.json", "data.batch_size", 50, F_SELF_NT, "train_batch", 50, "="),
    ("FreiHAND/self_no_tex.json", "data.val_batch_size", 8, F_SELF_NT, "val_batch", 8, "="),
    ("FreiHAND/self_no_tex.json", "train.eval_interval", 10, F_SELF_NT, "save_interval", 10, "="),
    ("FreiHAND/self_no_tex.json", "init.checkpoint", RHD_CKPT, F_SELF_NT, "pretrain_model", "self_rhd_new/no_texture/model/texturehand_latest.t7", "our RHD run's last checkpoint (the reference resumed its own run)"),
    ("FreiHAND/self_no_tex.json", "init.freeze", (), F_SELF_NT, "only_train_texture default", False, "nothing frozen"),
    ("FreiHAND/self_no_tex.json", "model.texture", False, F_SELF_NT, "render", False, "="),
    # ---------------------------------------------------------------- FreiHAND texture-only stages
    ("FreiHAND/weak_texture.json", "loss.terms", ("mrgb", "mtex", "perceptual", "ssim_tex", "texture"), F_TEX, "losses", ("mrgb", "mtex", "perceptual", "ssim_tex", "texture"), "="),
    ("FreiHAND/weak_texture.json", "loss.texture", 0.1, F_TEX, "lambda_texture", 0.1, "="),
    ("FreiHAND/weak_texture.json", "loss.mrgb", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("FreiHAND/weak_texture.json", "loss.ssim_tex", 0.02, F_TEX, "lambda_ssim_tex", 0.02, "="),
    ("FreiHAND/weak_texture.json", "loss.perceptual", 1e-7, F_TEX, "lambda_percep", 1e-07, "="),
    ("FreiHAND/weak_texture.json", "loss.mtex", TEX_FULL, F_TEX, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("FreiHAND/weak_texture.json", "optim.lr", 5e-6, F_TEX, "force_init_lr", 5e-06, "="),
    ("FreiHAND/weak_texture.json", "optim.lr_milestones", (), F_TEX, "lr_steps", (80, 160, 200, 300, 350, 400, 450), PASSED),
    ("FreiHAND/weak_texture.json", "train.start_epoch", 461, F_TEX, "pretrain_model", "outputs/freihand/weakly_rhd_no_tex/model/texturehand_460.t7", "continues after the geometry checkpoint's epoch 460"),
    ("FreiHAND/weak_texture.json", "train.epochs", 520, F_TEX, "total_epochs", 520, "="),
    ("FreiHAND/weak_texture.json", "data.batch_size", 48, F_TEX, "train_batch", 48, "="),
    ("FreiHAND/weak_texture.json", "data.val_batch_size", 16, F_TEX, "val_batch", 16, "="),
    ("FreiHAND/weak_texture.json", "train.eval_interval", 10, F_TEX, "save_interval", 10, "="),
    ("FreiHAND/weak_texture.json", "init.checkpoint", "outputs/freihand_weak_no_tex/checkpoints/epoch_0460.pt", F_TEX, "pretrain_model", "outputs/freihand/weakly_rhd_no_tex/model/texturehand_460.t7", "our weak no-texture run at epoch 460"),
    ("FreiHAND/weak_texture.json", "init.texture_checkpoint", "outputs/freihand_weak/checkpoints/last.pt", F_TEX, "pretrain_texture_model", "outputs/freihand/weakly_rhd/model/texturehand_latest.t7", "our weak run's last checkpoint"),
    ("FreiHAND/weak_texture.json", "init.freeze", GEOMETRY, FREEZE, "base_encoder, hand_encoder.base_layers, pose_reg, shape_reg", GEOMETRY, "the same modules under our names"),
    ("FreiHAND/weak_texture.json", "init.freeze_norm", "batch", FREEZE, "rec_freeze", "requires_grad False, BN momentum 0, train mode", "batch statistics normalise, running ones kept"),
    ("FreiHAND/weak_texture.json", "model.texture", True, F_TEX, "render", True, "="),
    ("FreiHAND/weak_texture.json", "model.light", "directional", F_TEX, "light_estimation", True, "the reference's light head: colour and direction"),
    ("FreiHAND/weak_texture_best.json", "loss.terms", ("mrgb", "mtex", "perceptual", "ssim_tex", "texture"), F_TEX_BEST, "losses", ("mrgb", "mtex", "perceptual", "ssim_tex", "texture"), "="),
    ("FreiHAND/weak_texture_best.json", "loss.texture", 0.1, F_TEX_BEST, "lambda_texture", 0.1, "="),
    ("FreiHAND/weak_texture_best.json", "loss.mrgb", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("FreiHAND/weak_texture_best.json", "loss.ssim_tex", 0.02, F_TEX_BEST, "lambda_ssim_tex", 0.02, "="),
    ("FreiHAND/weak_texture_best.json", "loss.perceptual", 1e-7, F_TEX_BEST, "lambda_percep", 1e-07, "="),
    ("FreiHAND/weak_texture_best.json", "loss.mtex", TEX_FULL, F_TEX_BEST, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("FreiHAND/weak_texture_best.json", "optim.lr", 5e-6, F_TEX_BEST, "force_init_lr", 5e-06, "="),
    ("FreiHAND/weak_texture_best.json", "optim.lr_milestones", (), F_TEX_BEST, "lr_steps", (80, 160, 200, 300, 350, 400, 450), PASSED),
    ("FreiHAND/weak_texture_best.json", "train.start_epoch", 461, F_TEX_BEST, "pretrain_model", "outputs/freihand/weakly_rhd_no_tex/model/texturehand_460.t7", "continues after the geometry checkpoint's epoch 460"),
    ("FreiHAND/weak_texture_best.json", "train.epochs", 650, F_TEX_BEST, "total_epochs", 650, "="),
    ("FreiHAND/weak_texture_best.json", "data.batch_size", 48, F_TEX_BEST, "train_batch", 48, "="),
    ("FreiHAND/weak_texture_best.json", "data.val_batch_size", 16, F_TEX_BEST, "val_batch", 16, "="),
    ("FreiHAND/weak_texture_best.json", "train.eval_interval", 10, F_TEX_BEST, "save_interval", 10, "="),
    ("FreiHAND/weak_texture_best.json", "init.checkpoint", "outputs/freihand_weak_no_tex/checkpoints/epoch_0460.pt", F_TEX_BEST, "pretrain_model", "outputs/freihand/weakly_rhd_no_tex/model/texturehand_460.t7", "our weak no-texture run at epoch 460"),
    ("FreiHAND/weak_texture_best.json", "init.texture_checkpoint", "outputs/freihand_weak_texture/checkpoints/best.pt", F_TEX_BEST, "pretrain_texture_model", "outputs/freihand/weakly_rhd_only_tex/best_texture_580.t7", "the best epoch of our first texture-only run"),
    ("FreiHAND/weak_texture_best.json", "init.freeze", GEOMETRY, FREEZE, "base_encoder, hand_encoder.base_layers, pose_reg, shape_reg", GEOMETRY, "the same modules under our names"),
    ("FreiHAND/weak_texture_best.json", "init.freeze_norm", "batch", FREEZE, "rec_freeze", "requires_grad False, BN momentum 0, train mode", "batch statistics normalise, running ones kept"),
    ("FreiHAND/weak_texture_best.json", "model.texture", True, F_TEX_BEST, "render", True, "="),
    # ---------------------------------------------------------------- HO-3D full
    ("HO3D/full.json", "loss.terms", ("bone_direc_3d", "joint_3d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture"), H_FULL, "losses", ("bone_direc_3d", "joint_3d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture"), "="),
    ("HO3D/full.json", "loss.joint_3d", 20.0, H_FULL, "lambda_j3d", 20, "="),
    ("HO3D/full.json", "loss.bone_direc_3d", 6.0, H_FULL, "lambda_bone_direc_3d", 6, "="),
    ("HO3D/full.json", "loss.texture", 0.02, H_FULL, "lambda_texture", 0.02, "="),
    ("HO3D/full.json", "loss.mrgb", 2e-3, H_FULL, "lambda_mrgb", 0.002, "="),
    ("HO3D/full.json", "loss.ssim_tex", 0.01, H_FULL, "lambda_ssim_tex", 0.01, "="),
    ("HO3D/full.json", "loss.perceptual", 1e-8, H_FULL, "lambda_percep", 1e-08, "="),
    ("HO3D/full.json", "loss.sil", 1e-5, H_FULL, "lambda_silhouette", 1e-05, "="),
    ("HO3D/full.json", "loss.mpose", POSE_HO3D, H_FULL, "lambda_pose_list/steps", POSE_HO3D, "="),
    ("HO3D/full.json", "loss.mshape", SHAPE, H_FULL, "lambda_shape_list/steps", SHAPE, "="),
    ("HO3D/full.json", "loss.mtex", TEX_FULL, H_FULL, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("HO3D/full.json", "optim.lr", 1e-5, H_FULL, "init_lr", 1e-05, "="),
    ("HO3D/full.json", "optim.lr_milestones", (), H_FULL, "lr_steps", (80, 160, 200, 300, 350, 400, 450), PASSED),
    ("HO3D/full.json", "train.start_epoch", 251, H_FULL, "pretrain_model", "outputs/RHD/baseline_2/model/texturehand_latest.t7", FROM_RHD),
    ("HO3D/full.json", "train.epochs", 600, H_FULL, "total_epochs", 600, "="),
    ("HO3D/full.json", "data.batch_size", 48, H_FULL, "train_batch", 48, "="),
    ("HO3D/full.json", "data.val_batch_size", 16, H_FULL, "val_batch", 16, "="),
    ("HO3D/full.json", "train.eval_interval", 5, H_FULL, "save_interval", 5, "="),
    ("HO3D/full.json", "init.checkpoint", RHD_CKPT, H_FULL, "pretrain_model", "outputs/RHD/baseline_2/model/texturehand_latest.t7", "our RHD run's last checkpoint"),
    ("HO3D/full.json", "init.freeze", (), H_FULL, "only_train_texture default", False, "nothing frozen"),
    ("HO3D/full.json", "model.texture", True, H_FULL, "render", True, "="),
    ("HO3D/full.json", "model.light", "directional", H_FULL, "light_estimation", True, "the reference's light head: colour and direction"),
    # ---------------------------------------------------------------- HO-3D weak
    ("HO3D/weak.json", "loss.terms", ("bone_direc", "joint_2d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture"), H_WEAK, "losses", ("bone_direc", "joint_2d", "mpose", "mrgb", "mshape", "mtex", "perceptual", "sil", "ssim_tex", "texture"), "="),
    ("HO3D/weak.json", "loss.joint_2d", 0.01, H_WEAK, "lambda_j2d_gt_list", 0.01, "="),
    ("HO3D/weak.json", "loss.bone_direc", 0.1, H_WEAK, "lambda_bone_direc", 0.1, "="),
    ("HO3D/weak.json", "loss.texture", 0.01, H_WEAK, "lambda_texture", 0.01, "="),
    ("HO3D/weak.json", "loss.mrgb", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("HO3D/weak.json", "loss.ssim_tex", 2e-3, H_WEAK, "lambda_ssim_tex", 0.002, "="),
    ("HO3D/weak.json", "loss.perceptual", 1e-8, H_WEAK, "lambda_percep", 1e-08, "="),
    ("HO3D/weak.json", "loss.sil", 1e-5, H_WEAK, "lambda_silhouette", 1e-05, "="),
    ("HO3D/weak.json", "loss.mpose", POSE_HO3D, H_WEAK, "lambda_pose_list/steps", POSE_HO3D, "="),
    ("HO3D/weak.json", "loss.mshape", SHAPE, H_WEAK, "lambda_shape_list/steps", SHAPE, "="),
    ("HO3D/weak.json", "loss.mtex", TEX_FULL, H_WEAK, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("HO3D/weak.json", "optim.lr", 1e-3, H_WEAK, "init_lr", 0.001, "="),
    ("HO3D/weak.json", "optim.lr_milestones", (), H_WEAK, "lr_steps", (80, 160, 200, 300, 350, 400, 450), PASSED),
    ("HO3D/weak.json", "train.start_epoch", 251, H_WEAK, "pretrain_model", "outputs/RHD/baseline_2/model/texturehand_latest.t7", FROM_RHD),
    ("HO3D/weak.json", "train.epochs", 500, H_WEAK, "total_epochs", 500, "="),
    ("HO3D/weak.json", "data.batch_size", 48, H_WEAK, "train_batch", 48, "="),
    ("HO3D/weak.json", "data.val_batch_size", 16, H_WEAK, "val_batch", 16, "="),
    ("HO3D/weak.json", "train.eval_interval", 5, H_WEAK, "save_interval", 5, "="),
    ("HO3D/weak.json", "init.checkpoint", RHD_CKPT, H_WEAK, "pretrain_model", "outputs/RHD/baseline_2/model/texturehand_latest.t7", "our RHD run's last checkpoint"),
    ("HO3D/weak.json", "init.freeze", (), H_WEAK, "only_train_texture default", False, "nothing frozen"),
    ("HO3D/weak.json", "model.texture", True, H_WEAK, "render", True, "="),
    ("HO3D/weak.json", "model.light", "directional", H_WEAK, "light_estimation", True, "the reference's light head: colour and direction"),
    # ---------------------------------------------------------------- HO-3D self
    ("HO3D/self.json", "loss.terms", ("mpose", "mrgb_self", "mshape", "mtex", "open_2dj", "open_bone_direc", "ssim_tex_self", "texture_self"), H_SELF, "losses", ("mpose", "mrgb_self", "mshape", "mtex", "open_2dj", "open_bone_direc", "ssim_tex_self", "texture_self"), "="),
    ("HO3D/self.json", "loss.open_2dj", 1e-3, H_SELF, "lambda_j2d", 0.001, "="),
    ("HO3D/self.json", "loss.open_bone_direc", 0.2, H_SELF, "lambda_bone_direc", 0.2, "="),
    ("HO3D/self.json", "loss.texture_self", 3e-3, OPTIONS, "lambda_texture default", 0.003, "="),
    ("HO3D/self.json", "loss.mrgb_self", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("HO3D/self.json", "loss.ssim_tex_self", 1e-3, OPTIONS, "lambda_ssim_tex default", 0.001, "="),
    ("HO3D/self.json", "loss.mpose", ((1e-2, 1e-3, 1e-3, 1e-5), (260, 270, 300)), H_SELF, "lambda_pose_list/steps", ((0.01, 0.001, 0.001, 1e-05), (260, 270, 300)), "="),
    ("HO3D/self.json", "loss.mshape", SHAPE, H_SELF, "lambda_shape_list/steps", SHAPE, "="),
    ("HO3D/self.json", "loss.mtex", TEX_FULL, H_SELF, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("HO3D/self.json", "optim.lr", 1e-3, H_SELF, "init_lr", 0.001, "="),
    ("HO3D/self.json", "optim.lr_milestones", (), H_SELF, "lr_steps (force_init_lr -1)", (50, 80, 160, 200, 300, 350, 400, 450, 500), PASSED),
    ("HO3D/self.json", "train.start_epoch", 251, H_SELF, "pretrain_model", "pretrain_models/RHD/texturehand_latest_rhd.t7", FROM_RHD),
    ("HO3D/self.json", "train.epochs", 600, H_SELF, "total_epochs", 600, "="),
    ("HO3D/self.json", "data.batch_size", 50, H_SELF, "train_batch", 50, "="),
    ("HO3D/self.json", "data.val_batch_size", 8, H_SELF, "val_batch", 8, "="),
    ("HO3D/self.json", "train.eval_interval", 10, H_SELF, "save_interval", 10, "="),
    ("HO3D/self.json", "init.checkpoint", RHD_CKPT, H_SELF, "pretrain_model", "pretrain_models/RHD/texturehand_latest_rhd.t7", "our RHD run's last checkpoint"),
    ("HO3D/self.json", "init.freeze", (), H_SELF, "only_train_texture default", False, "nothing frozen"),
    ("HO3D/self.json", "model.texture", True, H_SELF, "render", True, "="),
    ("HO3D/self.json", "model.light", "directional", H_SELF, "light_estimation", True, "the reference's light head: colour and direction"),
    # ---------------------------------------------------------------- HO-3D texture-only stage (FreiHAND's settings)
    ("HO3D/weak_texture.json", "loss.terms", ("mrgb", "mtex", "perceptual", "ssim_tex", "texture"), F_TEX, "losses", ("mrgb", "mtex", "perceptual", "ssim_tex", "texture"), "="),
    ("HO3D/weak_texture.json", "loss.texture", 0.1, F_TEX, "lambda_texture", 0.1, "="),
    ("HO3D/weak_texture.json", "loss.mrgb", 1e-3, OPTIONS, "lambda_mrgb default", 0.001, "="),
    ("HO3D/weak_texture.json", "loss.ssim_tex", 0.02, F_TEX, "lambda_ssim_tex", 0.02, "="),
    ("HO3D/weak_texture.json", "loss.perceptual", 1e-7, F_TEX, "lambda_percep", 1e-07, "="),
    ("HO3D/weak_texture.json", "loss.mtex", TEX_FULL, F_TEX, "lambda_tex_reg_list/steps", TEX_FULL, "="),
    ("HO3D/weak_texture.json", "optim.lr", 5e-6, F_TEX, "force_init_lr", 5e-06, "="),
    ("HO3D/weak_texture.json", "optim.lr_milestones", (), F_TEX, "lr_steps", (80, 160, 200, 300, 350, 400, 450), PASSED),
    ("HO3D/weak_texture.json", "train.start_epoch", 501, H_WEAK, "total_epochs", 500, "continues after the weak HO-3D run"),
    ("HO3D/weak_texture.json", "train.epochs", 560, F_TEX, "total_epochs - geometry epoch", 60, "60 epochs, as the FreiHAND stage (461-520)"),
    ("HO3D/weak_texture.json", "data.batch_size", 48, F_TEX, "train_batch", 48, "="),
    ("HO3D/weak_texture.json", "data.val_batch_size", 16, F_TEX, "val_batch", 16, "="),
    ("HO3D/weak_texture.json", "train.eval_interval", 5, H_WEAK, "save_interval", 5, "="),
    ("HO3D/weak_texture.json", "init.checkpoint", "outputs/ho3d_weak/checkpoints/last.pt", H_WEAK, "base_out_path", "the weak HO-3D run", "no HO-3D weak run without texture: geometry and heads from the weak run"),
    ("HO3D/weak_texture.json", "init.texture_checkpoint", None, F_TEX, "pretrain_texture_model", "outputs/freihand/weakly_rhd/model/texturehand_latest.t7", "the heads already come with init.checkpoint"),
    ("HO3D/weak_texture.json", "init.freeze", GEOMETRY, FREEZE, "base_encoder, hand_encoder.base_layers, pose_reg, shape_reg", GEOMETRY, "the same modules under our names"),
    ("HO3D/weak_texture.json", "init.freeze_norm", "batch", FREEZE, "rec_freeze", "requires_grad False, BN momentum 0, train mode", "batch statistics normalise, running ones kept"),
    ("HO3D/weak_texture.json", "model.texture", True, F_TEX, "render", True, "="),
]
# fmt: on

#: Keys every mirrored config has a row for (plus one per active loss term).
REQUIRED_KEYS = (
    "loss.terms", "optim.lr", "optim.lr_milestones", "train.start_epoch", "train.epochs", "data.batch_size",
    "data.val_batch_size", "train.eval_interval", "init.checkpoint", "init.freeze", "model.texture",
)  # fmt: skip
#: Shipped configs that mirror no reference run (sized for a 2-core CPU).
NOT_MIRRORED = (
    "photos/self.json",
    "synthetic/ablation.json", "synthetic/full.json", "synthetic/full_staged.json", "synthetic/self.json",
    "synthetic/self_uv_align.json", "synthetic/weak.json",
)  # fmt: skip


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def _ours(cfg: Config, key: str) -> Any:
    """The value of a row's key in a loaded config."""
    weights = cfg.loss.resolved_weights()
    if key == "loss.terms":
        return tuple(sorted(weights))
    section, name = key.split(".", 1)
    if section == "loss" and name != "base":
        schedule = weights[name]
        return schedule.values[0] if schedule.is_constant else (schedule.values, schedule.milestones)
    return getattr(getattr(cfg, section), name)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]}:{r[1]}" for r in ROWS])
def test_shipped_config_matches_its_reference_row(row):
    config, key, value, reference_file, entry, reference_value, relation = row
    assert _normalise(_ours(load_config(CONFIG_DIR / config), key)) == _normalise(value), f"{config} {key} drifted from its row ({reference_file} {entry})"
    if relation == "=":
        assert _normalise(value) == _normalise(reference_value), f"{config} {key}: the row says equal to {reference_file} {entry}"


def test_every_shipped_config_term_and_setting_has_a_row():
    shipped = sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob("*.json"))
    covered = {row[0] for row in ROWS}
    assert sorted(covered | set(NOT_MIRRORED)) == shipped
    for config in covered:
        keys = {row[1] for row in ROWS if row[0] == config}
        terms = {f"loss.{name}" for name in load_config(CONFIG_DIR / config).loss.resolved_weights()}
        missing = (set(REQUIRED_KEYS) | terms) - keys
        assert not missing, f"{config}: no row for {sorted(missing)}"
    for config in NOT_MIRRORED:
        assert "Not a reference config" in load_config(CONFIG_DIR / config).description
