"""Regenerates the image fixtures and PIL's expected outputs (needs Pillow and numpy).

The reference path being matched is Open-Sora v1.2's read_image_from_path with transform
"resize_crop": pil_loader (PIL open + convert("RGB")) then resize_crop_to_fill (bicubic
resize to cover the target, center crop). Run: python make_fixtures.py (in this folder).
"""
import numpy as np
from PIL import Image


def resize_crop_to_fill(pil_image, image_size):  # as opensora/datasets/utils.py
    w, h = pil_image.size
    th, tw = image_size
    rh, rw = th / h, tw / w
    if rh > rw:
        sh, sw = th, round(w * rh)
        image = pil_image.resize((sw, sh), Image.BICUBIC)
        i, j = 0, int(round((sw - tw) / 2.0))
    else:
        sh, sw = round(h * rw), tw
        image = pil_image.resize((sw, sh), Image.BICUBIC)
        i, j = int(round((sh - th) / 2.0)), 0
    arr = np.array(image)
    return Image.fromarray(arr[i : i + th, j : j + tw])


rng = np.random.default_rng(7)
y, x = np.mgrid[0:23, 0:37]
pattern = np.stack([x * 7, y * 11, (x * y) % 256], -1) + rng.integers(0, 40, (23, 37, 3))
Image.fromarray(np.clip(pattern, 0, 255).astype(np.uint8)).save("pattern_37x23.png")

y, x = np.mgrid[0:30, 0:40]
smooth = np.stack([x * 6, y * 8, 128 + 100 * np.sin(x / 5.0) * np.cos(y / 4.0)], -1)
Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8)).save("photo_40x30.jpg", quality=90)
Image.fromarray((np.clip(smooth[..., 2], 0, 255)).astype(np.uint8)[:11, :17]).save("gray_17x11.jpg", quality=85)

rgba = np.concatenate([pattern[:7, :9], rng.integers(0, 256, (7, 9, 1))], -1)
Image.fromarray(np.clip(rgba, 0, 255).astype(np.uint8), "RGBA").save("rgba_9x7.png")

# Expected decodes (lossless PNG of what PIL's convert("RGB") gives).
for name in ["photo_40x30.jpg", "gray_17x11.jpg", "rgba_9x7.png"]:
    Image.open(name).convert("RGB").save(name.rsplit(".", 1)[0] + ".expected.png")

# Expected resize_crop_to_fill outputs, named SOURCE.fill_HxW.png.
for name, sizes in [("pattern_37x23.png", [(16, 24), (32, 48), (20, 20), (23, 37), (9, 61)]),
                    ("photo_40x30.jpg", [(32, 48), (24, 16)])]:
    img = Image.open(name).convert("RGB")
    for th, tw in sizes:
        resize_crop_to_fill(img, (th, tw)).save(f"{name.rsplit('.', 1)[0]}.fill_{th}x{tw}.png")
