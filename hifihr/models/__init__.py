"""The HiFiHR network: a timm encoder, regression heads, the light head and the camera head."""

from .encoders import Encoder, EncoderFeatures, list_encoders, register_encoder
from .heads import CameraHead, LightHead, ParamHead, Trunk
from .network import HiFiHR, build_model

__all__ = [
    "CameraHead",
    "Encoder",
    "EncoderFeatures",
    "HiFiHR",
    "LightHead",
    "ParamHead",
    "Trunk",
    "build_model",
    "list_encoders",
    "register_encoder",
]
