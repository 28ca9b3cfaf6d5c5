"""Check demo/vae.py against the golden Open-Sora v1.2 VAE cases (run from the worktree root)."""
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo.vae import VideoAutoencoder  # noqa: E402

torch.set_num_threads(1)
GOLD = "Tests/Fixtures/golden"


def build(cfg):
    p, sp, tp = cfg["pipeline"], cfg["spatial_autoencoderkl"], cfg["pipeline"]["vae_temporal"]
    spatial = dict(block_out_channels=sp["block_out_channels"], layers_per_block=sp["layers_per_block"],
                   norm_num_groups=sp["norm_num_groups"], latent_channels=sp["latent_channels"],
                   in_channels=sp["in_channels"], out_channels=sp["out_channels"])
    temporal = {k: tp[k] for k in ("filters", "channel_multipliers", "num_res_blocks", "num_groups",
                                   "temporal_downsample", "latent_embed_dim", "embed_dim", "in_out_channels")}
    return VideoAutoencoder(spatial, temporal, p["micro_frame_size"], shift=p["shift"], scale=p["scale"])


def main():
    ok = True
    for case in ("vae_T1", "vae_T13", "vae_T18"):
        meta = json.load(open(f"{GOLD}/{case}.json"))
        io = load_file(f"{GOLD}/{meta.get('io_file', case + '.io.safetensors')}")
        tol = meta["suggested_tolerance"]["max_abs"]
        m = build(meta["config"]).eval()
        m.load_state_dict(load_file(f"{GOLD}/{meta['weights_file']}"), strict=True)
        x, T = io["x"], io["x"].shape[2]
        errs = {}

        def cmp(name, got):
            ref = io[name]
            assert got.shape == ref.shape, (case, name, tuple(got.shape), tuple(ref.shape))
            errs[name] = (got - ref).abs().max().item()

        with torch.no_grad():
            assert m.get_latent_size(T, x.shape[3], x.shape[4]) == tuple(meta["config"]["latent_size"])
            cmp("sp_latent_mode", m.spatial_vae.encode(x, sample=False))
            k = 0
            while f"t_enc_chunk{k}.in" in io:
                mean, logvar = m.temporal_vae.encode_dist(io[f"t_enc_chunk{k}.in"])
                cmp(f"t_enc_chunk{k}.mean", mean)
                cmp(f"t_enc_chunk{k}.logvar", logvar)
                k += 1
            cmp("z_mode", m.encode(x, sample=False))
            sn = torch.cat([io[n] for n in sorted((n for n in io if n.startswith("enc_noise_spatial")),
                                                  key=lambda n: int(n[len("enc_noise_spatial"):]))])
            tn = [io[f"enc_noise_temporal{j}"] for j in range(k)]
            cmp("z_sample", m.encode(x, sample=True, noise=(sn, tn)))
            k = 0
            while f"dec_chunk{k}.z_in" in io:
                cmp(f"dec_chunk{k}.out", m.temporal_vae.decode(io[f"dec_chunk{k}.z_in"], io[f"dec_chunk{k}.out"].shape[2]))
                k += 1
            cmp("x_rec_mode", m.decode(io["z_mode"], num_frames=T))
            cmp("x_dec_rand", m.decode(io["z_rand"], num_frames=T))
        worst = max(errs.values())
        status = "OK" if worst <= tol else "FAIL"
        ok &= worst <= tol
        print(f"{case}: {status} (tol {tol:g}, worst {worst:.3e})")
        for n, e in errs.items():
            print(f"  {n:24s} {e:.3e}{'' if e <= tol else '  <-- over'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
