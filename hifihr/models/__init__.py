"""The HiFiHR network: a timm encoder, regression heads, the light head and the camera head."""

from .encoders import ENCODERS, Encoder, EncoderFeatures, EncoderSpec
from .heads import CameraHead, LightHead, ParamHead, Trunk
from .network import HiFiHR, build_model

__all__ = [
    "CameraHead",
    "ENCODERS",
    "Encoder",
    "EncoderFeatures",
    "EncoderSpec",
    "HiFiHR",
    "LightHead",
    "ParamHead",
    "Trunk",
    "build_model",
]
