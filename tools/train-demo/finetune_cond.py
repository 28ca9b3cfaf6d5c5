#!/usr/bin/env python3
"""Fine-tunes the shipped demo model (models/demo) for Open-Sora v1.2 conditioning, at 17 frames.

The demo STDiT3 was trained without conditioning and at 16 frames. Open-Sora v1.2 trains with a
random `x_mask` per clip (MaskGenerator: conditioning latent frames at the head, the tail, both,
a quarter, random ones) and at 4k+1 frames, so that the causal temporal VAE puts frame 0 alone in
latent frame 0, exactly where an encoded reference image lands. This does the same from the
shipped weights instead of retraining (156 min):

  vae       (optional) the temporal VAE fine-tuned on 17-frame clips (micro_frame_size 17)
  latents   17-frame training clips encoded with the (frozen) VAE, normalised by the shipped shift/scale
  dit       STDiT3 only (T5 frozen) with the rectified-flow loss where the masked-out latent frames
            are the clean x0 at timestep 0 and are left out of the loss, as v1.2's training_losses
  export    fp16 stdit3.safetensors (+ vae.safetensors if fine-tuned) into --out

Usage: nice python3 tools/train-demo/finetune_cond.py --work tools/train-demo/work-cond --out /tmp/demo-cond --minutes 55
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402
from demo import synthetic as S  # noqa: E402

FRAMES = 17


def log(stage, msg):
    train.log(stage, msg)


def load_safetensors(module, path):
    from safetensors.torch import load_file

    sd = {k: v.float() for k, v in load_file(path).items()}
    module.load_state_dict(sd)


def shipped(args):
    tok = train.Tokenizer(args.model)  # spiece.model lives beside the weights
    t5, dit, vae = train.make_t5(tok.sp.get_piece_size()), train.make_dit(), train.make_vae()
    load_safetensors(t5, os.path.join(args.model, "t5.safetensors"))
    load_safetensors(dit, os.path.join(args.model, "stdit3.safetensors"))
    load_safetensors(vae, os.path.join(args.model, "vae.safetensors"))
    vae.micro_frame_size = FRAMES
    vae.micro_z_frame_size = vae.temporal_vae.get_latent_t(FRAMES)
    return tok, t5, dit, vae


# Open-Sora v1.2 MaskGenerator kinds (latent frames; False = a conditioning frame, True = generated).
MASKS = {"none": 0.35, "image_head": 0.30, "image_tail": 0.05, "image_head_tail": 0.10,
         "quarter_head": 0.10, "quarter_head_tail": 0.05, "random": 0.05}


def random_mask(rng: np.random.Generator, t: int) -> np.ndarray:
    kind = rng.choice(list(MASKS), p=np.array(list(MASKS.values())) / sum(MASKS.values()))
    m = np.ones(t, bool)
    k = int(rng.integers(1, t // 2 + 1))  # a "quarter": 1..t/2 latent frames (5 of 10: a loop's carried-over frames)
    if kind == "image_head":
        m[0] = False
    elif kind == "image_tail":
        m[-1] = False
    elif kind == "image_head_tail":
        m[0] = m[-1] = False
    elif kind == "quarter_head":
        m[:k] = False
    elif kind == "quarter_head_tail":
        m[:k] = False
        m[-k:] = False
    elif kind == "random":
        m[rng.random(t) < 0.3] = False
    if not m.any():
        m[-1] = True
    return m


def psnr(a, b):
    mse = ((a - b) ** 2).mean().item()  # in [-1, 1]
    return 10 * np.log10(4.0 / max(mse, 1e-12))


@torch.no_grad()
def vae_check(vae, rng, n=8):
    clips, _, _ = S.batch(rng, n)
    x = torch.from_numpy(clips)
    rec = vae.decode(vae.encode(x, sample=False), num_frames=FRAMES)
    img = x[:, :, :1]
    rec_img = vae.decode(vae.encode(img, sample=False), num_frames=1)
    # image-to-video: the lone image's latent, then the clip's later latents (reference_layout_loss)
    z_ref = torch.cat([vae.encode(img, sample=False), vae.encode(x, sample=False)[:, :, 1:]], dim=2)
    rec_ref = vae.decode(z_ref, num_frames=FRAMES)[:, :, :1]
    return psnr(rec, x), psnr(rec_img, img), psnr(rec_ref, img)


@torch.no_grad()
def stage_spatial(args):
    """Renders the training clips (17 frames, and 34 for loops) and encodes them with the frozen
    spatial VAE once: the temporal fine-tune and the latents stage both start from these."""
    rng = train.seeded(args.seed, "cond_spatial")
    _, _, _, vae = shipped(args)
    vae.eval()
    sets = {}
    for frames, count in ((FRAMES, args.clips), (2 * FRAMES, args.long_clips)):
        xs, scenes = [], []
        t0 = time.time()
        for k in range(0, count, 25):
            # Scenes placed for 17 frames (so they start in view), rendered for `frames`: in a
            # 34-frame clip a fast shape may leave the frame, as a continued motion would.
            S.FRAMES = FRAMES
            sc = [S.random_scene(rng) for _ in range(25)]
            S.FRAMES = frames  # render reads it at call time
            clips = np.stack([S.render(x) for x in sc])
            xs.append(train.spatial_latents(vae, torch.from_numpy(clips)))
            scenes += [vars(s) for s in sc]
            if k % 200 == 0:
                log("spatial", f"{k}/{count} clips of {frames} frames ({time.time() - t0:.0f} s)")
        sets[frames] = {"x_z": torch.cat(xs), "scenes": scenes}
    S.FRAMES = FRAMES
    torch.save(sets, os.path.join(args.work, "spatial.pt"))


def stage_vae(args):
    """The temporal VAE on 17-frame clips AND on their first frame alone (a reference image):
    both go through the causal front padding the shipped VAE (trained on 16 frames) never saw."""
    stage = "cond_vae_reference" if args.reference_layout else "cond_vae_decoder" if args.decoder_only else "cond_vae"
    rng = train.seeded(args.seed, stage)
    vae = work_vae(args) if args.decoder_only else shipped(args)[3]
    check_rng = np.random.default_rng(args.seed)
    log("vae", "starting VAE at 17 frames: clip PSNR %.2f dB, single image PSNR %.2f dB, image-to-video frame 0 PSNR %.2f dB" % vae_check(vae, check_rng))
    x_all = torch.load(os.path.join(args.work, "spatial.pt"))[FRAMES]["x_z"]
    tv = vae.temporal_vae
    if args.decoder_only:  # a second pass: the latents the DiT was tuned on stay as they are
        for p in list(tv.encoder.parameters()) + list(tv.quant_conv.parameters()):
            p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in tv.parameters() if p.requires_grad], lr=args.vae_lr, weight_decay=0.0)
    t0 = time.time()
    for step in range(args.vae_steps):
        xz = x_all[rng.integers(0, len(x_all), size=8)]
        for g in opt.param_groups:
            g["lr"] = train.lr_at(step, args.vae_steps, args.vae_lr, 20)
        loss = 0
        for part in (xz, xz[:, :, :1]):
            mean, logvar = tv.encode_dist(part)
            rec = tv.decode(train.sample(mean, logvar), num_frames=part.shape[2])
            loss = loss + F.mse_loss(rec, part) + 0.5 * (rec - part).abs().mean() + 1e-6 * train.kl(mean, logvar)
        if args.reference_layout:
            loss = loss + reference_layout_loss(tv, xz, args.first_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == args.vae_steps - 1:
            log("vae", f"step {step} loss {loss.item():.5f} ({time.time() - t0:.0f} s)")
    check_rng = np.random.default_rng(args.seed)
    log("vae", "fine-tuned VAE: clip PSNR %.2f dB, single image PSNR %.2f dB, image-to-video frame 0 PSNR %.2f dB" % vae_check(vae, check_rng))
    torch.save(vae.state_dict(), os.path.join(args.work, "vae.pt"))


def reference_layout_loss(tv, xz, first_weight):
    """What the decoder gets at image-to-video time: latent frame 0 is the reference image encoded
    ALONE, frames 1.. come from the denoiser (here: the clip's own latents). GroupNorm pools its
    statistics over all latent frames (encoder and decoder), so the lone encoding differs from the
    clip's latent frame 0 and frame 0's decoding depends on the later frames: trained only on whole
    clips and lone frames, the decoder made frame 0 of such mixed latents 5 dB worse than either.
    Frame 0 (the reference) gets `first_weight` times the weight of the other 16 frames."""
    with torch.no_grad():  # the encoder is frozen in the decoder-only pass
        z_clip = train.sample(*tv.encode_dist(xz))
        z_image = train.sample(*tv.encode_dist(xz[:, :, :1]))
    rec = tv.decode(torch.cat([z_image, z_clip[:, :, 1:]], dim=2), num_frames=xz.shape[2])
    d = rec - xz
    w = torch.ones(xz.shape[2])
    w[0] = first_weight
    w = (w / w.mean()).view(1, 1, -1, 1, 1)
    return ((d * d + 0.5 * d.abs()) * w).mean()


def work_vae(args):
    _, _, _, vae = shipped(args)
    path = os.path.join(args.work, "vae.pt")
    if os.path.exists(path):
        vae.load_state_dict(torch.load(path))
    return vae


@torch.no_grad()
def stage_latents(args):
    """Temporal posteriors of the clips (34-frame clips as two 17-frame micro-chunks)."""
    vae = work_vae(args)
    vae.eval()
    sets = torch.load(os.path.join(args.work, "spatial.pt"))
    out = {}
    for frames, d in sets.items():
        x_z = d["x_z"]
        chunks = [vae.temporal_vae.encode_dist(x_z[:, :, i:i + FRAMES]) for i in range(0, frames, FRAMES)]
        out[frames] = {"mean": torch.cat([c[0] for c in chunks], dim=2), "logvar": torch.cat([c[1] for c in chunks], dim=2),
                       "scenes": d["scenes"]}
        log("latents", f"{len(d['scenes'])} clips of {frames} frames -> latent {tuple(out[frames]['mean'].shape[1:])}")
    torch.save(out, os.path.join(args.work, "latents.pt"))


def stage_dit(args):
    rng = train.seeded(args.seed, "cond_dit")
    tok, t5, dit, vae = shipped(args)
    sets = torch.load(os.path.join(args.work, "latents.pt"))
    shift, scale = vae.shift, vae.scale  # the shipped normalisation ([1, 4, 1, 1, 1])
    for d in sets.values():
        d["scenes"] = [S.Scene(**s) for s in d["scenes"]]
    for p in t5.parameters():
        p.requires_grad_(False)
    params = [p for p in dit.parameters() if p.requires_grad]
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    t0 = time.time()
    steps = args.max_steps
    running = 0.0
    step = 0
    while step < steps:
        # a quarter of the steps on 34-frame clips (half the batch): loops condition on 5 of 10 latent frames
        long = 2 * FRAMES in sets and rng.random() < args.long_share
        data = sets[2 * FRAMES if long else FRAMES]
        scenes, b = data["scenes"], args.batch // 2 if long else args.batch
        t_lat = data["mean"].shape[2]
        idx = rng.integers(0, len(scenes), size=b)
        x0 = (train.sample(data["mean"][idx], data["logvar"][idx]) - shift) / scale
        with torch.no_grad():
            ids, mask = tok([scenes[i].caption(rng) for i in idx])
            y = t5(ids, mask)[:, None]
        x_mask = torch.from_numpy(np.stack([random_mask(rng, t_lat) for _ in range(b)]))
        u = torch.where(torch.rand(b) < 0.7, torch.sigmoid(torch.randn(b)), torch.rand(b))
        t = u * 1000
        noise = torch.randn_like(x0)
        tt = (t / 1000).view(-1, 1, 1, 1, 1)
        xt = (1 - tt) * x0 + tt * noise
        xt = torch.where(x_mask[:, None, :, None, None], xt, x0)  # conditioning frames: clean, timestep 0
        drop = torch.rand(b) < 0.1
        lr = train.lr_at(step, steps, args.lr, 50)
        for g in opt.param_groups:
            g["lr"] = lr
        out = dit(xt, t, y, mask, x_mask, drop_caption=drop, **train.conditioning(b))
        v = out.chunk(2, dim=1)[0]
        err = ((v - (x0 - noise)) ** 2).mean(dim=(1, 3, 4))  # [B, T]
        w = x_mask.float()
        loss = (err * w).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p.detach(), 1 - args.ema)
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
        elapsed = time.time() - t0
        if step == 19:  # fit the cosine schedule to the wall-time budget
            steps = min(args.max_steps, max(40, int(args.minutes * 60 / (elapsed / 20))))
            log("dit", f"{elapsed / 20:.2f} s/step -> {steps} steps in {args.minutes} min")
        if step % 50 == 0 or step == steps - 1:
            log("dit", f"step {step}/{steps} loss {running:.4f} lr {lr:.2e} ({elapsed:.0f} s)")
        if (step + 1) % 100 == 0:
            save_dit(args, dit, ema, params, "dit.partial.pt")
        step += 1
    save_dit(args, dit, ema, params, "dit.pt")
    json.dump({"steps": steps, "batch": args.batch, "long_share": args.long_share, "lr": args.lr, "ema": args.ema, "masks": MASKS, "frames": FRAMES,
               "seconds": round(time.time() - t0, 1)}, open(os.path.join(args.work, "dit.json"), "w"), indent=1)


def save_dit(args, dit, ema, params, name):
    with torch.no_grad():
        live = [p.detach().clone() for p in params]
        for e, p in zip(ema, params):
            p.copy_(e)
        torch.save(dit.state_dict(), os.path.join(args.work, name))
        for v, p in zip(live, params):
            p.copy_(v)


def stage_export(args):
    from safetensors.torch import save_file

    os.makedirs(args.out, exist_ok=True)
    _, _, dit, _ = shipped(args)
    name = "dit.pt" if os.path.exists(os.path.join(args.work, "dit.pt")) else "dit.partial.pt"
    dit.load_state_dict(torch.load(os.path.join(args.work, name)))
    files = {"stdit3.safetensors": dit}
    if os.path.exists(os.path.join(args.work, "vae.pt")):
        files["vae.safetensors"] = work_vae(args)
    for f in ("t5.safetensors", "spiece.model", "vae.safetensors", "training.json"):
        if f not in files and os.path.abspath(args.out) != os.path.abspath(args.model):
            shutil.copy(os.path.join(args.model, f), os.path.join(args.out, f))
    for fname, module in files.items():
        sd = {k: v.detach().to(torch.float16).contiguous() for k, v in module.state_dict().items()}
        save_file(sd, os.path.join(args.out, fname), metadata={"format": "pt", "source": "tools/train-demo/finetune_cond.py"})
        log("export", f"{fname} from {name}: {os.path.getsize(os.path.join(args.out, fname)) / 1e6:.2f} MB")


STAGES = {"spatial": stage_spatial, "vae": stage_vae, "latents": stage_latents, "dit": stage_dit, "export": stage_export}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/demo", help="the shipped demo model to start from")
    p.add_argument("--work", default="tools/train-demo/work-cond")
    p.add_argument("--out", default="tools/train-demo/work-cond/model")
    p.add_argument("--stages", default="spatial,vae,latents,dit,export")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clips", type=int, default=800)
    p.add_argument("--long-clips", type=int, default=200)
    p.add_argument("--long-share", type=float, default=0.25)
    p.add_argument("--vae-steps", type=int, default=300)
    p.add_argument("--vae-lr", type=float, default=5e-4)
    p.add_argument("--decoder-only", action="store_true", help="vae stage: continue from --work's vae.pt, temporal decoder only")
    p.add_argument("--reference-layout", action="store_true",
                   help="vae stage (with --decoder-only): also train on a lone-encoded first latent frame followed by the clip's later latents")
    p.add_argument("--first-weight", type=float, default=4.0, help="--reference-layout: loss weight of frame 0 relative to the others")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--minutes", type=float, default=50.0, help="wall-time budget of the dit stage")
    p.add_argument("--max-steps", type=int, default=100000)
    args = p.parse_args()
    S.FRAMES = FRAMES  # render / random_scene read it at call time
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    for name in args.stages.split(","):
        t0 = time.time()
        STAGES[name](args)
        log(name, f"finished in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
