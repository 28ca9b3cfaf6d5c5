"""What a generated clip shows: the object's colour and the direction its centroid moves.

The same measure as the engine's behaviour test (Tests/DemoTests/DemoBehaviourTests.swift):
background = per-channel median of each frame's border pixels; object pixels = those farther than
THRESHOLD (sum of absolute RGB differences, 0..765) from it; colour = the object colour nearest to
the mean object pixel; direction = the larger axis of the centroid's move from the first quarter
of the frames to the last quarter (image y grows downwards).
"""

from __future__ import annotations

import numpy as np

from . import synthetic as S

THRESHOLD = 90.0


def probe(frames: np.ndarray) -> tuple[str, str]:
    """frames: [T, H, W, 3] uint8 -> (colour, direction)."""
    f = frames.astype(np.float32)
    t = f.shape[0]
    centroids, pixels = [], []
    for k in range(t):
        img = f[k]
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        bg = np.median(border, axis=0)
        mask = np.abs(img - bg).sum(-1) > THRESHOLD
        if mask.any():
            ys, xs = np.nonzero(mask)
            centroids.append((xs.mean(), ys.mean()))
            pixels.append(img[mask])
        else:
            centroids.append(None)
    if not pixels:
        return "none", "none"
    mean = np.concatenate(pixels).mean(0)
    colour = min(S.COLOURS, key=lambda c: float(((np.array(S.COLOURS[c]) - mean) ** 2).sum()))
    q = max(1, t // 4)
    first = [c for c in centroids[:q] if c is not None]
    last = [c for c in centroids[-q:] if c is not None]
    if not first or not last:
        return colour, "none"
    dx = np.mean([c[0] for c in last]) - np.mean([c[0] for c in first])
    dy = np.mean([c[1] for c in last]) - np.mean([c[1] for c in first])
    if max(abs(dx), abs(dy)) < 4.0:
        return colour, "still"
    if abs(dx) >= abs(dy):
        return colour, "right" if dx > 0 else "left"
    return colour, "down" if dy > 0 else "up"
