"""The open-hand builder: a right hand in NIMBLE's file format, made from code (CC0).

:func:`build` makes the three NIMBLE objects from a :class:`BuildConfig` and
:func:`write_assets` writes them with their SHA-256 digests; ``scripts/build_open_hand.py``
is the command line that rewrites ``assets/open_hand/`` (:data:`hifihr.hand.OPEN_HAND_DIR`).
The build is deterministic: one seed drives every random draw, and the same seed on the same
software gives byte-identical pickles.

All lengths are in millimetres. The design frame is NIMBLE's axes (wrist -> fingertips along
+z, thumb on +x, palm facing -y) with the carpal joint at the origin; the build maps the result
rigidly into NIMBLE's rest frame at the end. The steps, one module each:

1. :mod:`.skeleton`: 25 joints and 20 bones with anatomical lengths, by forward kinematics
   from a flat hand with a slight rest flexion.
2. :mod:`.skin_field` and :mod:`.meshing`: the skin as a signed distance field of blended
   primitives, meshed with surface nets, decimated with quadric error metrics and remeshed on
   the exact zero level set.
3. :mod:`.interior`: a capsule mesh per bone whose end rings are centred on the joints (the
   joint regressor averages those rings) and six ellipsoids for muscle groups.
4. :mod:`.skinning`: nearest-bone labels diffused over the skin surface, normalised per vertex.
5. :mod:`.shape_space` and :mod:`.pose_space`: seeded samples of parametric shape variations
   (applied as smooth bone-driven space warps, so the topology never changes) and of joint
   angles within anatomical limits; :mod:`.pca` fits the shape, pose and texture spaces.
6. :mod:`.uv_layout` and :mod:`.textures`: two UV islands (back and palm) unrolled by
   least-squares conformal maps, and procedural diffuse, normal and specular maps baked in
   texture space from 3D features.
7. :mod:`.keypoints`: a 21-keypoint regressor in FreiHAND order from skin vertex rings
   (``jreg_mano``); :mod:`.meshing` also gives the graph geodesics of the skin (``skin_v_gd``).
8. :mod:`.builder` runs the steps in order; :mod:`.files` pickles deterministically and
   writes atomically.

The decimation needs ``fast-simplification``, imported only when a skin is built.
"""

from .builder import FULL, BuildConfig, build
from .files import FILE_NAMES, pickle_bytes, write_assets

__all__ = ["FILE_NAMES", "FULL", "BuildConfig", "build", "pickle_bytes", "write_assets"]
