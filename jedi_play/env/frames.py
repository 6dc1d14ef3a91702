"""Frame preprocessing: max-pool of two screens and area-interpolation resize to 64x64.

The area resize is written as two small matrices (rows and columns), which is exactly OpenCV's
``INTER_AREA`` for downscaling: each output pixel is the overlap-weighted mean of the source pixels
under its footprint. It saves a dependency on OpenCV and takes about 0.2 ms a frame. The products run
in torch, not numpy: numpy's OpenBLAS keeps a thread pool of its own that spins after each product, and on
two cores it took the core torch's second thread needed, so that encoding 64 frames after 64 env steps
took 80 ms at two torch threads instead of 15 (docs/agents.md, "How many updates the agent needs").
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def area_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) float32 matrix whose row i averages the source interval [i*s, (i+1)*s), s = src/dst."""
    if dst > src:
        raise ValueError(f"area resize only shrinks (src={src}, dst={dst})")
    scale = src / dst
    m = np.zeros((dst, src), dtype=np.float64)
    for i in range(dst):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(src, int(np.ceil(hi)))):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    m /= scale
    return m.astype(np.float32)


def area_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Resize an (H, W, C) uint8 frame to (size, size, C) uint8 with area interpolation."""
    h, w, _ = frame.shape
    rows, cols = area_matrix(h, size), area_matrix(w, size)
    import torch  # here, not at the top: replay and export-video import this module and must not need torch

    x = torch.from_numpy(frame).float()  # (H, W, C)
    out = torch.einsum("ih,hwc,jw->ijc", torch.from_numpy(rows), x, torch.from_numpy(cols))  # (size, size, C)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()


def max_pool(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise max of the last two screens of a frame-skip (removes Atari sprite flicker)."""
    return np.maximum(a, b)
