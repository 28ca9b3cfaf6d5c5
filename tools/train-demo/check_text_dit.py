#!/usr/bin/env python3
"""Check demo/t5.py and demo/stdit3.py against the golden reference cases.

Run from the repository root: python3 tools/train-demo/check_text_dit.py
Loads each golden weights file with load_state_dict(strict=True), runs the recorded calls and prints
the max abs error per output; exits 1 if any is over the case's suggested tolerance.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo.stdit3 import STDiT3, pos_embed_2d  # noqa: E402
from demo.t5 import T5Encoder  # noqa: E402

torch.set_num_threads(1)
GOLD = os.path.join("Tests", "Fixtures", "golden")
failed = False


def load_case(name):
    meta = json.load(open(os.path.join(GOLD, name + ".json")))
    w = load_file(os.path.join(GOLD, meta["weights_file"]))
    io = load_file(os.path.join(GOLD, meta["io_file"]))
    return meta, w, io


def report(case, label, got, want, tol, gate=True):
    global failed
    err = (got.detach().float() - want.float()).abs().max().item()
    bad = gate and not err <= tol
    failed |= bad
    print(f"  {case:10s} {label:24s} max_abs_err={err:.3e}  tol={tol:g}  {'FAIL' if bad else 'ok' if gate else '(info)'}")


def check_t5():
    meta, w, io = load_case("t5_encoder")
    c = meta["config"]
    m = T5Encoder(c["vocab_size"], c["d_model"], c["num_layers"], c["num_heads"], c["d_kv"], c["d_ff"],
                  c["relative_attention_num_buckets"], c["relative_attention_max_distance"]).eval()
    m.load_state_dict(w, strict=True)
    tol = meta["suggested_tolerance"]["max_abs"]
    with torch.no_grad():
        out = m(io["input_ids"], io["attention_mask"])
        attn = m.encoder.block[0].layer[0].SelfAttention
        L = io["input_ids"].shape[1]
        report("t5", "position_bias_layer0", attn.compute_bias(L, L), io["position_bias_layer0"], tol, False)
    report("t5", "last_hidden_state", out, io["last_hidden_state"], tol)


def check_stdit3():
    meta, w, io = load_case("stdit3")
    c = meta["config"]
    m = STDiT3(c["hidden_size"], c["depth"], c["num_heads"], c["caption_channels"], c["model_max_length"],
               in_channels=c["in_channels"], patch_size=tuple(c["patch_size"]), mlp_ratio=c["mlp_ratio"],
               pred_sigma=c["pred_sigma"], qk_norm=c["qk_norm"], input_sq_size=c["input_sq_size"]).eval()
    m.load_state_dict(w, strict=True)
    tol = meta["suggested_tolerance"]["max_abs"]
    x, ts, y, mask = io["x"], io["timestep"], io["y"], io["mask"]
    fps, hgt, wid = io["fps"], io["height"], io["width"]
    with torch.no_grad():
        # a few intermediates, for diagnosis only
        H, W = x.shape[3] // 2, x.shape[4] // 2
        S = H * W
        pe = pos_embed_2d(c["hidden_size"], H, W, (hgt[0].item() * wid[0].item()) ** 0.5 / c["input_sq_size"],
                          round(S ** 0.5), x.device, x.dtype)
        report("stdit3", "pos_emb", pe, io["pos_emb"], tol, False)
        t = m.t_embedder(ts) + m.fps_embedder(fps)
        report("stdit3", "t_plus_fps", t, io["t_plus_fps"], tol, False)
        report("stdit3", "t_mlp", m.t_block(t), io["t_mlp"], tol, False)

        out = m(x, ts, y, mask=mask, fps=fps, height=hgt, width=wid)
        report("stdit3", "out", out, io["out"], tol)
        if "x_mask" in io:
            xo = m(x, ts, y, mask=mask, x_mask=io["x_mask"].bool(), fps=fps, height=hgt, width=wid)
            report("stdit3", "xmask_out", xo, io["xmask_out"], tol)


def main():
    check_t5()
    check_stdit3()
    print("FAILED" if failed else "all outputs within tolerance")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
