"""Principal component fits of the open hand's shape, pose and texture samples, with each
component's sign fixed (its largest-magnitude entry positive) so that the build repeats."""

from __future__ import annotations

import numpy as np


def shape_pca(displacements: np.ndarray, comps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of displacement fields [M, 3N]: ``(basis [K, 3N] unit rows, pm_mean [K], pm_std [K])``
    where pm_mean/pm_std are the mean/std of the samples' (uncentred) coefficients."""
    centred = displacements - displacements.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = _fix_signs(vt[:comps])
    coeffs = displacements @ basis.T
    return basis, coeffs.mean(axis=0), coeffs.std(axis=0)


def _fix_signs(basis: np.ndarray) -> np.ndarray:
    """Make each row's largest-magnitude entry positive (SVD signs are arbitrary)."""
    idx = np.argmax(np.abs(basis), axis=1)
    return basis * np.sign(basis[np.arange(len(basis)), idx])[:, None]



def pose_pca(axis_angles: np.ndarray, comps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PCA of poses [M, 57]: ``(basis [K, 57], mean [57], pm_mean [K], pm_std [K])``;
    zero normalised coefficients give the sample mean."""
    mean = axis_angles.mean(axis=0)
    _, _, vt = np.linalg.svd(axis_angles - mean, full_matrices=False)
    basis = _fix_signs(vt[:comps])
    coeffs = (axis_angles - mean) @ basis.T
    return basis, mean, coeffs.mean(axis=0), coeffs.std(axis=0)



def texture_pca(samples: np.ndarray, comps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of texture samples [M, D] through their Gram matrix:
    ``(basis [D, K] unit columns, mean [D], std [K])``."""
    mean = samples.mean(axis=0, dtype=np.float64)
    centred = samples - mean.astype(np.float32)
    gram = (centred @ centred.T).astype(np.float64)
    eigval, eigvec = np.linalg.eigh(gram)
    order = np.argsort(eigval)[::-1][:comps]
    eigval, eigvec = eigval[order], eigvec[:, order]
    basis = (centred.T.astype(np.float64) @ eigvec) / np.sqrt(eigval)
    basis = _fix_signs(basis.T).T
    return basis, mean, np.sqrt(eigval / len(samples))
