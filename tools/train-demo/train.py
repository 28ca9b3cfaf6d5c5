#!/usr/bin/env python3
"""Trains the embedded demo model: Open-Sora v1.2's architecture at toy size, on synthetic videos.

Stages (each reads the previous stages' outputs from --work and is skipped when its output exists,
so an interrupted run resumes; --force STAGE reruns one):
  tokenizer  SentencePiece (T5 id layout: pad 0, eos 1, unk 2, no bos) on every caption wording
  spatial    the per-frame AutoencoderKL: reconstruction + KL on single frames
  temporal   the causal temporal VAE on the spatial latents of clips (spatial VAE frozen)
  latents    encodes a fixed set of training clips to normalised latents (shift/scale measured here)
  dit        T5 encoder + STDiT3 together with the rectified-flow objective, caption dropout for CFG
  export     half-width safetensors with the engine's tensor names into --out

Reproducible from --seed (torch and numpy generators seeded per stage; 2 threads).
Usage: python3 tools/train-demo/train.py --work tools/train-demo/work --out models/demo
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo import synthetic as S  # noqa: E402
from demo.config import DEMO  # noqa: E402
from demo.vae import VideoAutoencoder  # noqa: E402

SPATIAL_SCALE = 0.18215  # Open-Sora's hard-coded spatial latent scale


def log(stage: str, msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {stage}: {msg}", flush=True)


def seeded(seed: int, stage: str) -> np.random.Generator:
    s = (seed * 1_000_003 + sum(map(ord, stage))) % (2**31)
    torch.manual_seed(s)
    return np.random.default_rng(s)


def make_vae() -> VideoAutoencoder:
    return VideoAutoencoder(DEMO["vae"]["spatial"], DEMO["vae"]["temporal"], DEMO["vae"]["micro_frame_size"])


def make_t5(vocab_size: int):
    from demo.t5 import T5Encoder

    t = DEMO["t5"]
    return T5Encoder(vocab_size, t["d_model"], t["num_layers"], t["num_heads"], t["d_kv"], t["d_ff"])


def make_dit():
    from demo.stdit3 import STDiT3

    d = DEMO["stdit3"]
    return STDiT3(d["hidden_size"], d["depth"], d["num_heads"], DEMO["t5"]["d_model"], DEMO["model_max_length"])


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


# ---------------------------------------------------------------------------------------------
# tokenizer


def stage_tokenizer(args) -> None:
    import sentencepiece as spm

    rng = seeded(args.seed, "tokenizer")
    texts = S.all_caption_texts()
    rng.shuffle(texts)
    path = os.path.join(args.work, "spiece")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=path, vocab_size=DEMO["vocab_size"], model_type="bpe",
        character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1,
        shuffle_input_sentence=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=path + ".model")
    longest = max(len(sp.encode(t)) + 1 for t in texts)
    log("tokenizer", f"{sp.get_piece_size()} pieces, longest caption {longest} ids (model_max_length {DEMO['model_max_length']})")
    assert longest <= DEMO["model_max_length"], "captions longer than model_max_length"


class Tokenizer:
    """ids + </s>, padded with 0 to model_max_length: the engine's T5Tokenizer (no extra ids)."""

    def __init__(self, work: str):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(work, "spiece.model"))
        self.length = DEMO["model_max_length"]

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.zeros(len(texts), self.length, dtype=torch.long)
        mask = torch.zeros(len(texts), self.length, dtype=torch.long)
        for i, t in enumerate(texts):
            row = self.sp.encode(t)[: self.length - 1] + [1]
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask


# ---------------------------------------------------------------------------------------------
# VAE


def kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()


def sample(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def object_weight(alpha: torch.Tensor, w: float, grow: int = 5) -> torch.Tensor:
    """Per-pixel loss weight: the object covers ~5% of a frame, so an unweighted loss learns the
    background and blurs the object. The weight spreads a few pixels past the edge."""
    grown = F.max_pool2d(alpha.flatten(0, -3)[:, None], grow, stride=1, padding=grow // 2).view_as(alpha)
    return 1 + w * grown


def weighted_rec_loss(rec: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    d = rec - target
    return ((d * d + 0.5 * d.abs()) * weight).mean() / weight.mean()


def stage_spatial(args) -> None:
    rng = seeded(args.seed, "spatial")
    cfg = DEMO["train"]["spatial"]
    vae = make_vae()
    ae = vae.spatial_vae.module
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg["lr"], weight_decay=0.0)
    t0 = time.time()
    for step in range(cfg["steps"]):
        clips, _, _, cover = S.batch(rng, cfg["clips"], alpha=True)
        # a few frames of each clip: [N, 3, H, W], and the object's coverage [N, 1, H, W]
        idx = rng.integers(0, S.FRAMES, size=(cfg["clips"], cfg["frames_per_clip"]))
        frames = torch.from_numpy(np.stack([clips[i][:, j] for i in range(len(clips)) for j in idx[i]]))
        alpha = torch.from_numpy(np.stack([cover[i][j] for i in range(len(clips)) for j in idx[i]]))[:, None]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg["steps"], cfg["lr"], 100)
        mean, logvar = ae.encode_dist(frames)
        rec = ae.decode(sample(mean, logvar))
        rec_loss = weighted_rec_loss(rec, frames, object_weight(alpha, cfg["object_weight"], cfg["grow"]))
        loss = rec_loss + cfg["kl_weight"] * kl(mean, logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 200 == 199:  # for looking at progress (see tools/train-demo/README.md)
            torch.save(vae.state_dict(), os.path.join(args.work, "vae_spatial.partial.pt"))
        if step % 50 == 0 or step == cfg["steps"] - 1:
            log("spatial", f"step {step} rec {rec_loss.item():.5f} kl {kl(mean, logvar).item():.3f} ({time.time() - t0:.0f} s)")
    torch.save(vae.state_dict(), os.path.join(args.work, "vae_spatial.pt"))


def spatial_latents(vae: VideoAutoencoder, clips: torch.Tensor) -> torch.Tensor:
    """Mode of the spatial posterior * 0.18215, per frame: [B, 3, T, H, W] -> [B, 4, T, h, w]."""
    b, c, t, h, w = clips.shape
    frames = clips.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    mean, _ = vae.spatial_vae.module.encode_dist(frames)
    return (mean * SPATIAL_SCALE).reshape(b, t, *mean.shape[1:]).permute(0, 2, 1, 3, 4)


def stage_temporal(args) -> None:
    rng = seeded(args.seed, "temporal")
    cfg = DEMO["train"]["temporal"]
    vae = make_vae()
    vae.load_state_dict(torch.load(os.path.join(args.work, "vae_spatial.pt")))
    for p in vae.spatial_vae.parameters():
        p.requires_grad_(False)
    tv = vae.temporal_vae
    opt = torch.optim.AdamW(tv.parameters(), lr=cfg["lr"], weight_decay=0.0)
    t0 = time.time()
    for step in range(cfg["steps"]):
        clips, _, _, cover = S.batch(rng, cfg["clips"], alpha=True)
        with torch.no_grad():
            xz = spatial_latents(vae, torch.from_numpy(clips))
            # coverage on the latent grid: [B, 1, T, h, w]
            alpha = F.max_pool2d(torch.from_numpy(cover), 8)[:, None]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg["steps"], cfg["lr"], 100)
        mean, logvar = tv.encode_dist(xz)
        rec = tv.decode(sample(mean, logvar), num_frames=S.FRAMES)
        rec_loss = weighted_rec_loss(rec, xz, object_weight(alpha, cfg["object_weight"], cfg["grow"]))
        loss = rec_loss + cfg["kl_weight"] * kl(mean, logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg["steps"] - 1:
            log("temporal", f"step {step} rec {rec_loss.item():.5f} (latent var {xz.var().item():.4f}) "
                f"kl {kl(mean, logvar).item():.3f} ({time.time() - t0:.0f} s)")
    torch.save(vae.state_dict(), os.path.join(args.work, "vae.pt"))


@torch.no_grad()
def stage_latents(args) -> None:
    rng = seeded(args.seed, "latents")
    cfg = DEMO["train"]["latents"]
    vae = make_vae()
    vae.load_state_dict(torch.load(os.path.join(args.work, "vae.pt")))
    vae.eval()
    means, logvars, scenes = [], [], []
    t0 = time.time()
    for start in range(0, cfg["clips"], 50):
        clips, sc, _ = S.batch(rng, 50)
        mean, logvar = vae.temporal_vae.encode_dist(spatial_latents(vae, torch.from_numpy(clips)))
        means.append(mean)
        logvars.append(logvar)
        scenes += [vars(s) for s in sc]
    mean, logvar = torch.cat(means), torch.cat(logvars)
    z = sample(mean, logvar)
    shift = z.mean(dim=(0, 2, 3, 4))
    scale = z.std(dim=(0, 2, 3, 4))
    log("latents", f"{len(scenes)} clips, latent {tuple(mean.shape[1:])}, shift {shift.tolist()}, scale {scale.tolist()} "
        f"({time.time() - t0:.0f} s)")
    torch.save({"mean": mean, "logvar": logvar, "scenes": scenes, "shift": shift, "scale": scale},
               os.path.join(args.work, "latents.pt"))


# ---------------------------------------------------------------------------------------------
# T5 + STDiT3


def conditioning(b: int) -> dict:
    return {"fps": torch.full((b,), float(DEMO["fps"])), "height": torch.full((b,), float(S.SIZE)),
            "width": torch.full((b,), float(S.SIZE))}


def init_dit(dit) -> None:
    """DiT / PixArt initialisation: xavier linears, small timestep and caption MLPs, and the
    cross-attention outputs and final projection at zero, so every block starts as identity."""
    for m in dit.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    w = dit.x_embedder.proj.weight
    torch.nn.init.xavier_uniform_(w.view(w.shape[0], -1))
    for mlp in (dit.t_embedder.mlp, dit.fps_embedder.mlp):
        torch.nn.init.normal_(mlp[0].weight, std=0.02)
        torch.nn.init.normal_(mlp[2].weight, std=0.02)
    torch.nn.init.normal_(dit.t_block[1].weight, std=0.02)
    torch.nn.init.normal_(dit.y_embedder.y_proj.fc1.weight, std=0.02)
    torch.nn.init.normal_(dit.y_embedder.y_proj.fc2.weight, std=0.02)
    for block in list(dit.spatial_blocks) + list(dit.temporal_blocks):
        torch.nn.init.zeros_(block.cross_attn.proj.weight)
        torch.nn.init.zeros_(block.cross_attn.proj.bias)
    torch.nn.init.zeros_(dit.final_layer.linear.weight)
    torch.nn.init.zeros_(dit.final_layer.linear.bias)


def stage_dit(args) -> None:
    cfg = DEMO["train"]["dit"]
    train_dit(args, "dit", cfg["steps"], cfg["lr"], warmup=200, start=None, out="dit.first.pt")


def stage_dit_more(args) -> None:
    """A second cycle from the dit stage's result (dit.first.pt; its EMA weights start both the
    live and the EMA copy; a fresh optimiser; config dit_more: steps, peak lr, warmup) -> dit.pt."""
    import shutil

    first = os.path.join(args.work, "dit.first.pt")
    cfg = DEMO["train"]["dit_more"]
    if cfg["steps"] == 0:
        shutil.copy(first, os.path.join(args.work, "dit.pt"))
        return
    train_dit(args, "dit_more", cfg["steps"], cfg["lr"], warmup=cfg["warmup"], start=torch.load(first), out="dit.pt")


def train_dit(args, stage: str, steps: int, peak_lr: float, warmup: int, start, out: str) -> None:
    rng = seeded(args.seed, stage)
    cfg = DEMO["train"]["dit"]
    data = torch.load(os.path.join(args.work, "latents.pt"))
    shift = data["shift"].view(1, -1, 1, 1, 1)
    scale = data["scale"].view(1, -1, 1, 1, 1)
    scenes = [S.Scene(**s) for s in data["scenes"]]
    tok = Tokenizer(args.work)
    t5, dit = make_t5(tok.sp.get_piece_size()), make_dit()
    if start is None:
        init_dit(dit)
    else:
        t5.load_state_dict(start["t5"])
        dit.load_state_dict(start["dit"])
    params = [p for p in list(t5.parameters()) + list(dit.parameters()) if p.requires_grad]
    log("dit", f"T5 {sum(p.numel() for p in t5.parameters()) / 1e6:.2f} M, STDiT3 {sum(p.numel() for p in dit.parameters()) / 1e6:.2f} M params")
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=peak_lr, weight_decay=0.0, betas=(0.9, 0.99))
    n = len(scenes)
    t0 = time.time()
    running = 0.0
    for step in range(steps):
        idx = rng.integers(0, n, size=cfg["batch"])
        x0 = (sample(data["mean"][idx], data["logvar"][idx]) - shift) / scale
        ids, mask = tok([scenes[i].caption(rng) for i in idx])
        b = len(idx)
        # Timesteps: logit-normal (as v1.2 trains) mixed with uniform so both ends are covered.
        u = torch.where(torch.rand(b) < 0.7, torch.sigmoid(torch.randn(b)), torch.rand(b))
        t = u * 1000
        noise = torch.randn_like(x0)
        tt = (t / 1000).view(-1, 1, 1, 1, 1)
        xt = (1 - tt) * x0 + tt * noise
        drop = torch.rand(b) < cfg["caption_dropout"]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, peak_lr, warmup)
        y = t5(ids, mask)[:, None]  # [B, 1, L, C]
        out = dit(xt, t, y, mask, None, drop_caption=drop, **conditioning(b))
        v = out.chunk(2, dim=1)[0]
        loss = F.mse_loss(v, x0 - noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = cfg["ema"] if start is not None else min(cfg["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p.detach(), 1 - decay)
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
        if step % 100 == 0 or step == steps - 1:
            log(stage, f"step {step} loss {running:.4f} lr {opt.param_groups[0]['lr']:.2e} ({time.time() - t0:.0f} s)")
        if (step + 1) % 1000 == 0 and step != steps - 1:
            save_dit(args, t5, dit, ema, params, "dit.partial.pt")  # EMA weights so far (evaluate.py --partial)
    save_dit(args, t5, dit, ema, params, out)


def save_dit(args, t5, dit, ema, params, name: str) -> None:
    with torch.no_grad():
        live = [p.detach().clone() for p in params]
        for e, p in zip(ema, params):
            p.copy_(e)
        torch.save({"t5": t5.state_dict(), "dit": dit.state_dict()}, os.path.join(args.work, name))
        for v, p in zip(live, params):
            p.copy_(v)


# ---------------------------------------------------------------------------------------------
# export


def stage_export(args) -> None:
    from safetensors.torch import save_file
    import shutil

    os.makedirs(args.out, exist_ok=True)
    data = torch.load(os.path.join(args.work, "latents.pt"))
    vae = make_vae()
    vae.load_state_dict(torch.load(os.path.join(args.work, "vae.pt")))
    with torch.no_grad():
        vae.shift.copy_(data["shift"].view_as(vae.shift))
        vae.scale.copy_(data["scale"].view_as(vae.scale))
    tok = Tokenizer(args.work)
    t5, dit = make_t5(tok.sp.get_piece_size()), make_dit()
    states = torch.load(os.path.join(args.work, "dit.pt"))
    t5.load_state_dict(states["t5"])
    dit.load_state_dict(states["dit"])
    dtype = torch.float16
    files = {"t5.safetensors": t5, "stdit3.safetensors": dit, "vae.safetensors": vae}
    total = 0
    for name, module in files.items():
        sd = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
        path = os.path.join(args.out, name)
        save_file(sd, path, metadata={"format": "pt", "source": "tools/train-demo/train.py"})
        total += os.path.getsize(path)
        log("export", f"{path}: {len(sd)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")
    shutil.copy(os.path.join(args.work, "spiece.model"), os.path.join(args.out, "spiece.model"))
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"seed": args.seed, "config": DEMO, "shift": data["shift"].tolist(), "scale": data["scale"].tolist(),
                   "held_out": S.HELD_OUT, "timings_s": read_timings(args)}, f, indent=1)
    log("export", f"total {total / 1e6:.2f} MB")


# ---------------------------------------------------------------------------------------------


STAGES = {
    "tokenizer": (stage_tokenizer, "spiece.model"),
    "spatial": (stage_spatial, "vae_spatial.pt"),
    "temporal": (stage_temporal, "vae.pt"),
    "latents": (stage_latents, "latents.pt"),
    "dit": (stage_dit, "dit.first.pt"),
    "dit_more": (stage_dit_more, "dit.pt"),
    "export": (stage_export, None),
}


def read_timings(args) -> dict:
    path = os.path.join(args.work, "timings.json")
    return json.load(open(path)) if os.path.exists(path) else {}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="tools/train-demo/work", help="intermediate files (resumable)")
    p.add_argument("--out", default="models/demo", help="where the exported model goes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset, in order, of {','.join(STAGES)}")
    p.add_argument("--force", default="", help="comma-separated stages to rerun even if done (the stages after it too)")
    p.add_argument("--dit-steps", type=int, default=None, help=f"override the dit stage's steps ({DEMO['train']['dit']['steps']})")
    p.add_argument("--dit-more-steps", type=int, default=None,
                   help=f"override the dit_more stage's steps ({DEMO['train']['dit_more']['steps']}; 0 skips it)")
    args = p.parse_args()
    if args.dit_steps:
        DEMO["train"]["dit"]["steps"] = args.dit_steps
    if args.dit_more_steps is not None:
        DEMO["train"]["dit_more"]["steps"] = args.dit_more_steps
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    force = set(filter(None, args.force.split(",")))
    stages = args.stages.split(",")
    for name in stages:
        if name not in STAGES:
            p.error(f"unknown stage '{name}'; stages: {','.join(STAGES)}")
    # A rerun stage invalidates what later stages made from its output.
    order = list(STAGES)
    if force:
        first_forced = min(order.index(f) for f in force if f in STAGES)
        force |= set(order[first_forced:])
    for name in stages:
        fn, output = STAGES[name]
        if output and os.path.exists(os.path.join(args.work, output)) and name not in force:
            log(name, "done already, skipped")
            continue
        t0 = time.time()
        fn(args)
        timings = read_timings(args)
        timings[name] = round(time.time() - t0, 1)
        json.dump(timings, open(os.path.join(args.work, "timings.json"), "w"), indent=1)
        log(name, f"finished in {timings[name]:.0f} s")


if __name__ == "__main__":
    main()
