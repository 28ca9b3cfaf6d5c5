#!/usr/bin/env python3
"""Copies the conditioning golden cases (../shared/golden/mask) into Tests/Fixtures/golden/mask,
keeping in each io file only the tensors the engine's checker reads (every random draw, the
references' decoded pixels and VAE inputs, each loop's samples and video, the saved uint8 frames),
with 0..255 pixel data as float16 (exact) instead of int64. The JSON, README and reference files
are copied unchanged. Usage: python3 tools/golden/trim_mask_fixtures.py SRC_DIR DST_DIR
"""

import os
import re
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

KEEP = re.compile(r"^(draw\d+|ref\d+\.(decoded_uint8|vae_in)|loop\d+\.(samples|video)|final_video\d+\.uint8)$")


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name.endswith(".io.safetensors"):
            tensors = load_file(path)
            kept = {k: (v.to(torch.float16) if k.endswith("uint8") else v).contiguous() for k, v in tensors.items() if KEEP.match(k)}
            save_file(kept, os.path.join(dst, name), metadata={"trimmed_from": name, "tool": "tools/golden/trim_mask_fixtures.py"})
            print(f"{name}: {len(kept)} of {len(tensors)} tensors, {os.path.getsize(os.path.join(dst, name)) / 1e6:.2f} MB")
        else:
            shutil.copy(path, os.path.join(dst, name))
            os.chmod(os.path.join(dst, name), 0o644)


if __name__ == "__main__":
    main()
