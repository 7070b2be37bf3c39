"""HiFiHR: 3D hand reconstruction with high-fidelity texture from a single image.

Subpackages: ``hand`` (hand models), ``render`` (differentiable renderer), ``models``,
``losses``, ``data``, ``metrics``, ``engine``, ``viz``. Imports flow one way:
engine -> models, losses, data, metrics -> hand, render -> torch.
"""

__version__ = "0.1.0"
