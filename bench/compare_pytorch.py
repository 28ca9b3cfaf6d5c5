#!/usr/bin/env python3
"""Times the engine's benchmark workloads in PyTorch (the original Open-Sora code) and prints
the ratio next to the engine's own figure, both measured in this one command so machine drift
cancels out.

Optional dev tool, not part of the test suite. Needs: torch (CPU), the packages Open-Sora v1.2
imports (einops, timm, rotary-embedding-torch, diffusers, transformers), and a checkout of
hpcaitech/Open-Sora at v1.2.0 given with --opensora. Nothing from that checkout is copied here;
it is imported at run time.

    python3 bench/compare_pytorch.py --opensora ~/src/Open-Sora --threads 2 \
        --engine .build/release/opensora --workloads stdit3-xl2 vae-v1.2-decode
"""
import argparse, json, os, resource, subprocess, sys, time


def engine_run(binary, component, latent, threads):
    out = subprocess.run([binary, "bench", "--component", component, "--latent", latent, "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_stdit3(latent, threads):
    import torch
    from opensora.models.stdit.stdit3 import STDiT3, STDiT3Config
    torch.set_num_threads(threads)
    t, h, w = latent
    cfg = STDiT3Config(qk_norm=True, enable_flash_attn=False, enable_layernorm_kernel=False)
    model = STDiT3(cfg).eval()                       # random weights of the real shapes
    x = torch.randn(2, 4, t, h, w)
    y = torch.randn(2, 1, 300, 4096)
    mask = torch.ones(1, 300, dtype=torch.long)
    kw = dict(height=torch.tensor([h * 8.0] * 2), width=torch.tensor([w * 8.0] * 2), fps=torch.tensor([24.0] * 2))
    with torch.no_grad():
        t0 = time.time()
        model(x, torch.tensor([500.0, 500.0]), y, mask=mask, **kw)
        return time.time() - t0


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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--opensora", required=True, help="path of an Open-Sora v1.2.0 checkout")
    p.add_argument("--engine", default=".build/release/opensora")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--latent", default="15x18x32")
    p.add_argument("--workloads", nargs="+", default=["stdit3-xl2", "vae-v1.2-decode"])
    a = p.parse_args()
    sys.path.insert(0, a.opensora)
    latent = tuple(int(v) for v in a.latent.split("x"))
    runners = {"stdit3-xl2": torch_stdit3, "vae-v1.2-decode": torch_vae_decode}
    for wl in a.workloads:
        eng = engine_run(a.engine, wl, a.latent, a.threads)
        pt = runners[wl](latent, a.threads)
        print(json.dumps({"workload": wl, "latent": a.latent, "threads": a.threads, "engine_seconds": eng["seconds"],
                          "pytorch_seconds": pt, "speedup": pt / eng["seconds"],
                          "pytorch_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                          "engine_peak_rss_bytes": eng.get("peak_rss_bytes"),
                          # denoisers: the engine's GFLOP/s over plain sgemm's on its linear shapes, same process
                          "engine_fraction_of_sgemm": eng.get("fraction_of_sgemm")}))


if __name__ == "__main__":
    main()
