#!/usr/bin/env python3
"""Samples the held-out prompts with the PyTorch demo model and measures what the clips show.

Rectified flow exactly as Open-Sora v1.2 samples (timesteps (1 - i/n) * 1000, CFG with the null
caption y_embedding, Euler steps), then the VAE decode, then demo.probe. The Swift engine's
behaviour test does the same with the engine; this script is for tuning cfg / steps while training.
Usage: python3 tools/train-demo/evaluate.py --work tools/train-demo/work [--cfg 5 --steps 30] [--random]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402
from demo import synthetic as S  # noqa: E402
from demo.probe import probe  # noqa: E402


@torch.no_grad()
def generate(t5, dit, vae, tok, prompts, shift, scale, steps, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    b = len(prompts)
    z = torch.randn(b, 4, 4, 8, 8, generator=g)
    ids, mask = tok(prompts)
    y = t5(ids, mask)[:, None]
    null = dit.y_embedder.y_embedding[None, None].expand(b, 1, -1, -1)
    y2, mask2 = torch.cat([y, null]), torch.cat([mask, mask])
    cond = train.conditioning(2 * b)
    ts = [(1 - i / steps) * 1000 for i in range(steps)]
    for i, t in enumerate(ts):
        out = dit(torch.cat([z, z]), torch.full((2 * b,), t), y2, mask2, None, **cond)
        v_c, v_u = out.chunk(2, dim=1)[0].chunk(2, dim=0)
        v = v_u + cfg * (v_c - v_u)
        dt = (t - (ts[i + 1] if i + 1 < steps else 0)) / 1000
        z = z + v * dt
    x = vae.decode(z * scale + shift, num_frames=S.FRAMES)  # [B, 3, T, H, W] in [-1, 1]
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="tools/train-demo/work")
    p.add_argument("--cfg", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--random", action="store_true", help="untrained T5 + STDiT3 (the chance baseline)")
    p.add_argument("--partial", action="store_true", help="the dit stage's last progress checkpoint")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = torch.load(os.path.join(args.work, "latents.pt"))
    shift, scale = data["shift"].view(1, -1, 1, 1, 1), data["scale"].view(1, -1, 1, 1, 1)
    vae = train.make_vae()
    vae.load_state_dict(torch.load(os.path.join(args.work, "vae.pt")))
    tok = train.Tokenizer(args.work)
    t5, dit = train.make_t5(tok.sp.get_piece_size()), train.make_dit()
    if not args.random:
        states = torch.load(os.path.join(args.work, "dit.partial.pt" if args.partial else "dit.pt"))
        t5.load_state_dict(states["t5"])
        dit.load_state_dict(states["dit"])
    for m in (vae, t5, dit):
        m.eval()
    prompts = [S.canonical_prompt(*h) for h in S.HELD_OUT]
    clips = generate(t5, dit, vae, tok, prompts, shift, scale, args.steps, args.cfg, args.seed)
    colour_ok = direction_ok = both = 0
    for (c, s, d, bg), clip, prompt in zip(S.HELD_OUT, clips, prompts):
        got_c, got_d = probe(clip)
        colour_ok += got_c == c
        direction_ok += got_d == d
        both += got_c == c and got_d == d
        print(f"{prompt:55s} -> {got_c:7s} {got_d:6s} {'ok' if (got_c, got_d) == (c, d) else 'MISS'}")
    n = len(prompts)
    print(f"colour {colour_ok}/{n}, direction {direction_ok}/{n}, both {both}/{n} ({100 * both / n:.0f}%)")


if __name__ == "__main__":
    main()
