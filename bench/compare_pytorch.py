#!/usr/bin/env python3
"""Times the engine's benchmark workloads in PyTorch (the original Open-Sora code) and prints
the ratio next to the engine's own figure, both measured in this one command so machine drift
cancels out.

Optional dev tool, not part of the test suite. Needs: torch (CPU), the packages Open-Sora v1.2
imports (einops, timm, rotary-embedding-torch, diffusers, transformers), and a checkout of
hpcaitech/Open-Sora at v1.2.0 given with --opensora. Nothing from that checkout is copied here;
it is imported at run time. The dit-xl2 workload needs only torch: its PyTorch model is a plain
DiT-XL/2 forward of the real shapes written here (random weights, float32, the guidance batch).

    python3 bench/compare_pytorch.py --opensora ~/src/Open-Sora --threads 2 \
        --engine .build/release/opensora --workloads stdit3-xl2 vae-v1.2-decode
    python3 bench/compare_pytorch.py --threads 2 --workloads dit-xl2 --latent 32x32 --batch 8
    python3 bench/compare_pytorch.py --opensora ~/src/Open-Sora --threads 2 --workloads stdit3-xl2 stdit3-xl2-int8

With --standins the v1.2 STDiT3 imports with only torch, einops, rotary-embedding-torch and
transformers 4.x installed (bench/reference_standins.py: xformers' block-diagonal attention as
SDPA per sample, timm's Mlp and DropPath, empty mmengine/colossalai; the stand-in model matches
the golden stdit3 case's output to 3.6e-7).

mmdit-v2 / mmdit-v2-int8: Open-Sora 2.0's MMDiT at the real width with --blocks N double + N single
blocks (float32, or the blocks' linears dynamic int8 in PyTorch and --quantize int8 in the engine),
3 guidance branches, 512 T5 rows. The stand-ins add flash-attention (as SDPA) and Liger's RMSNorm and
rotate-half RoPE; with them the checkout's MMDiTModel reproduces the golden mmdit case to 4.2e-7.
Set TORCHDYNAMO_DISABLE=1 (timestep_embedding is wrapped in torch.compile).

    TORCHDYNAMO_DISABLE=1 python3 bench/compare_pytorch.py --opensora ~/src/Open-Sora-main --standins \
        --threads 2 --workloads mmdit-v2 mmdit-v2-int8 --latent 9,32,32 --blocks 1

hunyuan-vae-decode: Open-Sora 2.0's HunyuanVideo VAE decode (branch main checkout; with --standins
it needs torch, einops and diffusers 0.31: colossalai, mmengine and the checkpoint loader are stood in
for), random weights of the real shapes, spatial + temporal tiling in both.

    python3 bench/compare_pytorch.py --opensora ~/src/Open-Sora-main --standins --threads 2 \
        --workloads hunyuan-vae-decode --latent 33,32,32

int8-linear (needs only torch): the blocks' four linear shapes at the latent's token rows (CFG
batch 2), PyTorch nn.Linear float32 and quantize_dynamic(qint8) against the engine's
`bench --component int8-gemm` (its whole int8 linear, and sgemm), one JSON line per shape.

    python3 bench/compare_pytorch.py --threads 2 --workloads int8-linear --latent 15x18x32

stdit3-xl2-int8: the engine with --quantize int8 against PyTorch's own int8 path,
torch.ao.quantization.quantize_dynamic(..., {nn.Linear}, torch.qint8) on the 56 blocks
(FBGEMM; embedders and final layer stay float32 in both).

    python3 bench/compare_pytorch.py --threads 2 --workloads attention [--baseline-engine OLD/opensora]

The attention workload needs only torch: for each of STDiT3's attention shapes (what
`opensora bench --component attention` runs: spatial, temporal and cross at 144p and 240p) it times
torch.nn.functional.scaled_dot_product_attention on q, k, v in the layout the model hands it (the
[B, N, H*D] projection output viewed as [B, H, N, D]) and on contiguous [B, H, N, D] copies, next
to the engine's figure (and an older engine binary's, with --baseline-engine), one JSON line each.
"""
import argparse, json, math, os, resource, subprocess, sys, time


def engine_run(binary, component, latent, threads, extra=()):
    out = subprocess.run([binary, "bench", "--component", component, "--latent", latent, "--threads", str(threads), *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def engine_attention(binary, threads, repeats, shape=None):
    """The engine's attention bench: its default STDiT3 shapes, or one B,Nq,Nk,heads,headDim shape."""
    args = ["--shape", ",".join(map(str, shape))] if shape else []
    out = subprocess.run([binary, "bench", "--component", "attention", "--threads", str(threads), "--repeat", str(repeats), *args],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.strip().splitlines()]


def torch_attention(shape, threads, repeats):
    """Best of `repeats` SDPA calls (after one warm-up) on random q, k, v of the engine's shape
    B,Nq,Nk,heads,headDim: (strided view as the model passes it, contiguous [B, H, N, D])."""
    import torch
    torch.set_num_threads(threads)
    b, nq, nk, h, d = shape
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.rand(b, n, h * d, generator=g) * 2 - 1 for n in (nq, nk, nk))
    views = [t.view(b, -1, h, d).transpose(1, 2) for t in (q, k, v)]
    results = []
    for args in (views, [t.contiguous() for t in views]):
        best = math.inf
        with torch.no_grad():
            for i in range(repeats + 1):
                t0 = time.perf_counter()
                torch.nn.functional.scaled_dot_product_attention(*args)
                if i > 0:
                    best = min(best, time.perf_counter() - t0)
        results.append(best)
    return results


def attention_workload(a):
    # The shapes come from the engine; each is then timed in `--rounds` interleaved rounds (engine,
    # PyTorch, baseline engine) keeping each one's best, so load drift on a shared machine hits all
    # three alike. The baseline gets each shape explicitly (older binaries have no default list).
    for listed in engine_attention(a.engine, a.threads, 1):
        shape = tuple(listed["shape"])
        eng, base, strided, contiguous = None, None, math.inf, math.inf
        for _ in range(a.rounds):
            e = engine_attention(a.engine, a.threads, a.repeat, shape)[0]
            eng = e if eng is None or e["seconds"] < eng["seconds"] else eng
            st, ct = torch_attention(shape, a.threads, a.repeat)
            strided, contiguous = min(strided, st), min(contiguous, ct)
            if a.baseline_engine:
                b = engine_attention(a.baseline_engine, a.threads, a.repeat, shape)[0]
                base = b if base is None or b["seconds"] < base["seconds"] else base
        flops = 4.0 * math.prod(shape)
        print(json.dumps({"workload": "attention", "name": listed["name"], "shape": list(shape), "threads": a.threads,
                          "engine_seconds": eng["seconds"], "engine_gflops": eng["gflops"],
                          "baseline_engine_seconds": base and base["seconds"],
                          "baseline_engine_gflops": base and base["gflops"],
                          "pytorch_seconds": strided, "pytorch_gflops": flops / strided / 1e9,
                          "pytorch_contiguous_seconds": contiguous, "pytorch_contiguous_gflops": flops / contiguous / 1e9,
                          # against PyTorch's faster layout
                          "speedup": min(strided, contiguous) / eng["seconds"]}))


def torch_stdit3(latent, threads, quantize=False):
    import torch
    from opensora.models.stdit.stdit3 import STDiT3, STDiT3Config
    torch.set_num_threads(threads)
    t, h, w = latent
    cfg = STDiT3Config(qk_norm=True, enable_flash_attn=False, enable_layernorm_kernel=False)
    model = STDiT3(cfg).eval()                       # random weights of the real shapes
    if quantize:                                     # the blocks' Linear layers, dynamic int8 (FBGEMM)
        for blocks in (model.spatial_blocks, model.temporal_blocks):
            torch.ao.quantization.quantize_dynamic(blocks, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    x = torch.randn(2, 4, t, h, w)
    y = torch.randn(2, 1, 300, 4096)
    mask = torch.ones(1, 300, dtype=torch.long)
    kw = dict(height=torch.tensor([h * 8.0] * 2), width=torch.tensor([w * 8.0] * 2), fps=torch.tensor([24.0] * 2))
    with torch.no_grad():
        t0, c0 = time.time(), time.process_time()
        model(x, torch.tensor([500.0, 500.0]), y, mask=mask, **kw)
        return time.time() - t0, time.process_time() - c0     # wall, CPU seconds of all threads


def torch_vae_decode(latent, threads):
    import torch
    from opensora.models.vae.vae import OpenSoraVAE_V1_2
    torch.set_num_threads(threads)
    t, h, w = latent
    vae = OpenSoraVAE_V1_2(micro_frame_size=17, micro_batch_size=4).eval()   # needs the SDXL VAE config locally
    z = torch.randn(1, 4, t, h, w)
    frames = (t // 5) * 17
    with torch.no_grad():
        t0 = time.time()
        vae.decode(z, num_frames=frames)
        return time.time() - t0


def torch_hunyuan_decode(latent, threads):
    """Open-Sora 2.0's HunyuanVideo VAE (checkout of branch main, --standins), float32, random
    weights of the real shapes, spatial and temporal tiling on as configs/vae/inference sets them
    (the engine's bench uses the same tiling)."""
    import torch
    from opensora.models.hunyuan_vae.autoencoder_kl_causal_3d import AutoencoderKLCausal3D, AutoEncoder3DConfig
    torch.set_num_threads(threads)
    vae = AutoencoderKLCausal3D(AutoEncoder3DConfig(from_pretrained=None, use_spatial_tiling=True,
                                                    use_temporal_tiling=True)).eval()
    z = torch.randn(1, 16, *latent)
    with torch.no_grad():
        t0, c0 = time.time(), time.process_time()
        vae.decode(z)
        return time.time() - t0, time.process_time() - c0


def mmdit_workload(a, quantize):
    """Open-Sora 2.0's MMDiT (branch main, --standins) with the 256px config's real widths and N double
    + N single blocks (--blocks), random weights, float32 (PyTorch's CPU path; the engine holds bf16
    weights and computes in float32), 3 guidance branches in one batch, 512 T5 rows; against the
    engine's `bench --component mmdit-v2 --blocks N`, both timing the same N + N blocks and embedders.
    With quantize, the blocks' nn.Linear layers run PyTorch's dynamic int8 (quantize_dynamic, FBGEMM)
    and the engine runs --quantize int8."""
    import torch
    from opensora.models.mmdit.model import MMDiTModel, MMDiTConfig
    torch.set_num_threads(a.threads)
    t, h, w = (int(v) for v in a.latent.replace(",", "x").split("x"))
    blocks = a.blocks
    extra = ["--blocks", str(blocks), "--sgemm-window", "1"] + (["--quantize", "int8"] if quantize else [])
    eng = engine_run(a.engine, "mmdit-v2", a.latent, a.threads, extra)
    cfg = MMDiTConfig(from_pretrained=None, cache_dir=None, in_channels=64, vec_in_dim=768, context_in_dim=4096,
                      hidden_size=3072, mlp_ratio=4.0, num_heads=24, depth=blocks, depth_single_blocks=blocks,
                      axes_dim=[16, 56, 56], theta=10_000, qkv_bias=True, guidance_embed=False, cond_embed=True,
                      fused_qkv=False, use_liger_rope=True)
    model = MMDiTModel(cfg).eval()
    if quantize:
        for blocks_list in (model.double_blocks, model.single_blocks):
            torch.ao.quantization.quantize_dynamic(blocks_list, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    b, gh, gw = 3, h // 2, w // 2
    ids = torch.stack(torch.meshgrid(torch.arange(t), torch.arange(gh), torch.arange(gw), indexing="ij"), -1).reshape(1, -1, 3)
    n = ids.shape[1]
    kw = dict(img=torch.randn(b, n, 64), img_ids=ids.expand(b, -1, -1).float(), txt=torch.randn(b, 512, 4096) * 0.2,
              txt_ids=torch.zeros(b, 512, 3), timesteps=torch.full((b,), 0.9), y_vec=torch.randn(b, 768) * 0.5,
              cond=torch.randn(b, n, model.cond_in.in_features) * 0.5)
    with torch.no_grad():
        t0, c0 = time.time(), time.process_time()
        model(**kw)
        pt, pt_cpu = time.time() - t0, time.process_time() - c0
    print(json.dumps({"workload": "mmdit-v2" + ("-int8" if quantize else ""), "latent": a.latent, "blocks": [blocks, blocks],
                      "threads": a.threads, "engine_seconds": eng["seconds_run"], "pytorch_seconds": pt, "speedup": pt / eng["seconds_run"],
                      "engine_cpu_seconds": eng["cpu_seconds_run"], "pytorch_cpu_seconds": pt_cpu,
                      "cpu_speedup": pt_cpu / eng["cpu_seconds_run"], "engine_peak_rss_bytes": eng["peak_rss_bytes"],
                      "pytorch_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "engine_full_model_seconds_extrapolated": eng.get("full_model_seconds_extrapolated")}))


def torch_dit_xl2(latent, threads, batch):
    """DiT-XL/2 (hidden 1152, depth 28, 16 heads, patch 2, 1000 classes + null, learn_sigma) on
    the guidance batch of `batch` images: adaLN-Zero blocks, tanh-GELU MLP, SDPA attention."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    side = latent[-1]
    d, depth, heads, p, cin = 1152, 28, 16, 2, 4
    grid = side // p

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.ada = nn.Linear(d, 6 * d)

        def forward(self, x, c):
            shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).unsqueeze(1).chunk(6, dim=-1)
            b, n, _ = x.shape
            h = F.layer_norm(x, (d,), eps=1e-6) * (1 + scale1) + shift1
            q, k, v = self.qkv(h).view(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
            x = x + gate1 * self.proj(a)
            h = F.layer_norm(x, (d,), eps=1e-6) * (1 + scale2) + shift2
            return x + gate2 * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(cin, d, p, stride=p)
            self.pos = nn.Parameter(torch.randn(1, grid * grid, d) * 0.02)
            self.t1, self.t2 = nn.Linear(256, d), nn.Linear(d, d)
            self.labels = nn.Embedding(1001, d)
            self.blocks = nn.ModuleList(Block() for _ in range(depth))
            self.final_ada, self.final = nn.Linear(d, 2 * d), nn.Linear(d, p * p * 2 * cin)

        def forward(self, x, t, y):
            b = x.shape[0]
            tokens = self.patch(x).flatten(2).transpose(1, 2) + self.pos
            freqs = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float32) / 128)
            args = t[:, None].float() * freqs[None]
            c = self.t2(F.silu(self.t1(torch.cat([torch.cos(args), torch.sin(args)], dim=-1)))) + self.labels(y)
            c = F.silu(c)
            for blk in self.blocks:
                tokens = blk(tokens, c)
            shift, scale = self.final_ada(c).unsqueeze(1).chunk(2, dim=-1)
            out = self.final(F.layer_norm(tokens, (d,), eps=1e-6) * (1 + scale) + shift)
            out = out.view(b, grid, grid, p, p, 2 * cin)
            return torch.einsum("nhwpqc->nchpwq", out).reshape(b, 2 * cin, side, side)

    model = Model().eval()
    z = torch.randn(batch, cin, side, side)
    x = torch.cat([z, z])
    y = torch.tensor([(i * 97) % 1000 for i in range(batch)] + [1000] * batch)
    t = torch.full((2 * batch,), 500)
    with torch.no_grad():
        t0, c0 = time.time(), time.process_time()
        model(x, t, y)
        return time.time() - t0, time.process_time() - c0


def int8_linears(binary, latent, threads, repeats=3):
    import torch
    torch.set_num_threads(threads)
    t, h, w = latent
    m, c = 2 * t * (h // 2) * (w // 2), 1152
    for n, k in [(3 * c, c), (c, c), (4 * c, c), (c, 4 * c)]:
        eng = json.loads(subprocess.run([binary, "bench", "--component", "int8-gemm", "--shape", f"{m},{n},{k}", "--threads", str(threads),
                                         "--repeat", str(repeats)], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        ops = 2.0 * m * n * k
        fp32 = torch.nn.Linear(k, n).eval()
        int8 = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(k, n)), {torch.nn.Linear}, dtype=torch.qint8).eval()
        x = torch.rand(m, k) * 2 - 1

        def best(f):
            b = math.inf
            with torch.no_grad():
                for _ in range(repeats):
                    t0 = time.time(); f(x); b = min(b, time.time() - t0)
            return b
        pt32, pt8 = best(fp32), best(int8)
        print(json.dumps({"workload": "int8-linear", "shape": [m, n, k], "threads": threads,
                          "engine_int8_seconds": ops / eng["int8_linear_gops"] / 1e9, "pytorch_int8_seconds": pt8,
                          "int8_speedup_vs_pytorch_int8": pt8 / (ops / eng["int8_linear_gops"] / 1e9),
                          "engine_fp32_seconds": ops / eng["sgemm_gflops"] / 1e9, "pytorch_fp32_seconds": pt32,
                          "engine_int8_gemm_one_thread_gops": eng["int8_gemm_one_thread_gops"]}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--opensora", help="path of an Open-Sora v1.2.0 checkout (stdit3-xl2, vae-v1.2-decode), "
                                      "or of branch main (Open-Sora 2.0) for hunyuan-vae-decode")
    p.add_argument("--standins", action="store_true",
                   help="import the checkout's STDiT3 with bench/reference_standins.py in place of xformers, timm, "
                        "colossalai and mmengine (a CPU machine with only torch, einops, rotary-embedding-torch, transformers)")
    p.add_argument("--engine", default=".build/release/opensora")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--latent", default="15x18x32")
    p.add_argument("--workloads", nargs="+", default=["stdit3-xl2", "vae-v1.2-decode"])
    p.add_argument("--batch", type=int, default=8, help="dit-xl2: images (the model runs on twice as many rows)")
    p.add_argument("--blocks", type=int, default=2, help="mmdit-v2: double and single blocks built at the real width (default 2 + 2)")
    p.add_argument("--baseline-engine", help="attention: an older engine binary timed on the same shapes in this command")
    p.add_argument("--repeat", type=int, default=5, help="attention: calls per shape and round (best is kept)")
    p.add_argument("--rounds", type=int, default=3, help="attention: interleaved rounds per shape (best is kept)")
    a = p.parse_args()
    needs_checkout = [wl for wl in a.workloads if wl not in ("dit-xl2", "attention", "int8-linear")]
    if a.opensora:
        sys.path.insert(0, a.opensora)
        if a.standins:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import reference_standins
            v2 = [wl for wl in a.workloads if wl in ("hunyuan-vae-decode", "mmdit-v2", "mmdit-v2-int8")]
            if v2 and len(v2) != len(needs_checkout):
                p.error("hunyuan-vae-decode and mmdit-v2 need an Open-Sora 2.0 checkout, the other workloads v1.2.0: run them separately")
            (reference_standins.install_v2 if v2 else reference_standins.install)(a.opensora)
    elif needs_checkout:
        p.error("--opensora is needed for " + ", ".join(needs_checkout))
    if a.baseline_engine and "attention" not in a.workloads:
        p.error("--baseline-engine applies to the attention workload")
    latent = tuple(int(v) for v in a.latent.replace(",", "x").split("x"))
    runners = {"stdit3-xl2": torch_stdit3, "stdit3-xl2-int8": lambda lat, th: torch_stdit3(lat, th, quantize=True),
               "vae-v1.2-decode": torch_vae_decode, "hunyuan-vae-decode": torch_hunyuan_decode,
               "dit-xl2": lambda lat, th: torch_dit_xl2(lat, th, a.batch)}
    for wl in a.workloads:
        if wl == "attention":
            attention_workload(a)
            continue
        if wl == "int8-linear":
            int8_linears(a.engine, latent, a.threads)
            continue
        if wl in ("mmdit-v2", "mmdit-v2-int8"):
            mmdit_workload(a, quantize=wl.endswith("-int8"))
            continue
        extra = ("--batch", str(a.batch)) if wl == "dit-xl2" else ("--quantize", "int8") if wl == "stdit3-xl2-int8" else ()
        eng = engine_run(a.engine, wl.replace("-int8", ""), a.latent, a.threads, extra)
        pt = runners[wl](latent, a.threads)
        pt, pt_cpu = pt if isinstance(pt, tuple) else (pt, None)    # dit-xl2, stdit3, hunyuan also report CPU seconds
        print(json.dumps({"workload": wl, "latent": a.latent, "threads": a.threads, "engine_seconds": eng["seconds"],
                          "pytorch_seconds": pt, "speedup": pt / eng["seconds"],
                          "engine_cpu_seconds": eng.get("cpu_seconds"), "pytorch_cpu_seconds": pt_cpu,
                          "cpu_speedup": pt_cpu / eng["cpu_seconds"] if pt_cpu and eng.get("cpu_seconds") else None,
                          "pytorch_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                          "engine_peak_rss_bytes": eng.get("peak_rss_bytes"),
                          # denoisers: the engine's GFLOP/s over plain sgemm's on its linear shapes, same process
                          "engine_fraction_of_sgemm": eng.get("fraction_of_sgemm")}))


if __name__ == "__main__":
    main()
