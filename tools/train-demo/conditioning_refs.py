#!/usr/bin/env python3
"""Writes the reference images docs/conditioning.md uses (64 x 64 PNGs drawn by the demo's own
renderer, tools/train-demo/demo/synthetic.py): a yellow square on black at the left, the same
square at the right, and a red circle on blue. Usage: python3 tools/train-demo/conditioning_refs.py docs/examples
"""

import os
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo import synthetic as S  # noqa: E402


def write_png(path: str, rgb: np.ndarray) -> None:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def first_frame(shape, colour, background, x, y, radius=8.0) -> np.ndarray:
    scene = S.Scene(shape, colour, "still", background, x, y, radius, 0.0)
    frame = S.render(scene)[:, 0]  # [3, H, W] in [-1, 1]
    return np.clip(np.round((frame + 1) * 127.5), 0, 255).astype(np.uint8).transpose(1, 2, 0).copy()


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/examples"
    os.makedirs(out, exist_ok=True)
    write_png(os.path.join(out, "yellow-square-left.png"), first_frame("square", "yellow", "black", 18, 32))
    write_png(os.path.join(out, "yellow-square-right.png"), first_frame("square", "yellow", "black", 46, 32))
    write_png(os.path.join(out, "red-circle-blue.png"), first_frame("circle", "red", "blue", 32, 20))


if __name__ == "__main__":
    main()
