"""The HiFiHR network: a timm encoder, regression heads, the light head and the camera head."""

from .encoders import Encoder, EncoderFeatures, list_encoders, register_encoder
from .heads import CameraHead, LightHead, ParamHead, Trunk

__all__ = ["CameraHead", "Encoder", "EncoderFeatures", "LightHead", "ParamHead", "Trunk", "list_encoders", "register_encoder"]
