"""Lets bench/compare_pytorch.py import Open-Sora v1.2.0's STDiT3 on a CPU machine that has only
torch, einops, rotary-embedding-torch and transformers: xformers, colossalai, mmengine,
torchvision and timm (GPU, training or image-model dependencies) are replaced by the small modules
below, and the opensora package is entered without running its __init__ files (they
import every model, the VAEs' diffusers and the datasets).

The one stand-in on the forward's path is xformers.ops.memory_efficient_attention, which STDiT3's
cross-attention calls with a BlockDiagonalMask (each sample's image tokens attend to its own
caption tokens). It is PyTorch's scaled_dot_product_attention per block, the CPU attention a
PyTorch user gets. timm gives STDiT3 only Mlp (fc1, GELU, fc2) and DropPath (the
identity at inference); the stand-ins are those two, written here, because timm needs torchvision
at import. Spatial and temporal attention run the reference's own code (its plain
softmax(q k^T) v branch, enable_flash_attn=False). Nothing from the checkout is copied here.
"""
import importlib.machinery, os, sys, types


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__spec__ = importlib.machinery.ModuleSpec(name, None)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class _BlockDiagonalMask:
    def __init__(self, q_seqlens, kv_seqlens):
        self.q_seqlens, self.kv_seqlens = list(q_seqlens), list(kv_seqlens)

    @classmethod
    def from_seqlens(cls, q_seqlen, kv_seqlen=None):
        return cls(q_seqlen, kv_seqlen if kv_seqlen is not None else q_seqlen)


def _memory_efficient_attention(q, k, v, p=0.0, attn_bias=None):
    # q: [1, sum(Nq), H, D], k, v: [1, sum(Nk), H, D] (xformers' layout)
    import torch
    import torch.nn.functional as F
    if attn_bias is None:
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)
    if not isinstance(attn_bias, _BlockDiagonalMask):
        raise NotImplementedError("stand-in xformers: only BlockDiagonalMask or no bias")
    out, qs, ks = [], 0, 0
    for nq, nk in zip(attn_bias.q_seqlens, attn_bias.kv_seqlens):
        qb, kb, vb = (t[:, a:a + n].transpose(1, 2) for t, a, n in ((q, qs, nq), (k, ks, nk), (v, ks, nk)))
        out.append(F.scaled_dot_product_attention(qb, kb, vb).transpose(1, 2))
        qs, ks = qs + nq, ks + nk
    return torch.cat(out, dim=1)


class _Registry:
    def __init__(self, *args, **kwargs):
        pass

    def register_module(self, name=None, force=False, module=None):
        return module if module is not None else (lambda cls: cls)


def _timm():
    import torch.nn as nn

    class Mlp(nn.Module):   # timm.models.vision_transformer.Mlp as STDiT3 builds it
        def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.0, **_):
            super().__init__()
            self.fc1 = nn.Linear(in_features, hidden_features or in_features)
            self.act = act_layer()
            self.fc2 = nn.Linear(hidden_features or in_features, out_features or in_features)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    class DropPath(nn.Identity):
        def __init__(self, *args, **kwargs):
            super().__init__()

    layers = _module("timm.models.layers", DropPath=DropPath, Mlp=Mlp)
    vit = _module("timm.models.vision_transformer", Mlp=Mlp)
    _module("timm.models", layers=layers, vision_transformer=vit)
    _module("timm")


def install(checkout):
    """Puts the stand-ins in sys.modules and the checkout's packages on the import path."""
    ops = _module("xformers.ops", memory_efficient_attention=_memory_efficient_attention,
                  fmha=types.SimpleNamespace(BlockDiagonalMask=_BlockDiagonalMask))
    _module("xformers", ops=ops)
    _module("mmengine"); _module("mmengine.registry", Registry=_Registry)
    for name in ("colossalai", "colossalai.booster", "colossalai.checkpoint_io"):
        _module(name, Booster=object, GeneralCheckpointIO=object)
    _timm()
    # Packages entered without their __init__ (which imports every model of the repository).
    root = os.path.join(os.path.abspath(checkout), "opensora")
    for pkg, sub in (("opensora", ""), ("opensora.models", "models"), ("opensora.models.stdit", "models/stdit"),
                     ("opensora.utils", "utils")):
        _module(pkg, __path__=[os.path.join(root, sub)])
    _module("opensora.utils.ckpt_utils", load_checkpoint=None)   # only called to load real weights


def install_v2(checkout):
    """Open-Sora 2.0 (branch main): its autoencoders import diffusers (installed) and, for training
    and multi-GPU code that inference does not run, colossalai, mmengine and the checkpoint loader.
    Those are stood in for; the packages are entered without their __init__ files."""
    _module("mmengine"); _module("mmengine.registry", Registry=_Registry)
    _module("colossalai"); _module("colossalai.utils", get_current_device=lambda: "cpu")
    root = os.path.join(os.path.abspath(checkout), "opensora")
    for pkg, sub in (("opensora", ""), ("opensora.models", "models"), ("opensora.models.hunyuan_vae", "models/hunyuan_vae"),
                     ("opensora.models.dc_ae", "models/dc_ae"), ("opensora.models.vae", "models/vae"),
                     ("opensora.acceleration", "acceleration"), ("opensora.utils", "utils")):
        _module(pkg, __path__=[os.path.join(root, sub)])
    _module("opensora.registry", MODELS=_Registry())
    _module("opensora.utils.ckpt", load_checkpoint=None)   # only called to load real weights
    _module("opensora.models.mmdit", __path__=[os.path.join(root, "models/mmdit")])
    _mmdit_kernels()


def _mmdit_kernels():
    """The MMDiT's GPU kernels as the plain PyTorch they compute: flash-attention (softmax(q k^T /
    sqrt(D)) v, [B, L, H, D] layout) as scaled_dot_product_attention, Liger's RMSNorm
    (x / sqrt(mean(x^2) + eps) * scale) and Liger's rotate-half RoPE (q cos + rotate_half(q) sin,
    cos/sin [B, L, D] shared by the heads)."""
    import torch
    import torch.nn.functional as F

    def flash_attn_func(q, k, v, *args, **kwargs):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)

    class LigerRMSNormFunction:
        @staticmethod
        def apply(x, scale, eps, offset=0.0, casting_mode="llama", in_place=False):
            xf = x.float()
            return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * (scale + offset)

    class LigerRopeFunction:
        @staticmethod
        def apply(q, k, cos, sin):
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)          # [B, 1, L, D] over q, k [B, H, L, D]

            def rotate(x):
                half = x.shape[-1] // 2
                return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
            return q * cos + rotate(q) * sin, k * cos + rotate(k) * sin

    _module("flash_attn", flash_attn_func=flash_attn_func)
    _module("liger_kernel"); _module("liger_kernel.ops")
    _module("liger_kernel.ops.rms_norm", LigerRMSNormFunction=LigerRMSNormFunction)
    _module("liger_kernel.ops.rope", LigerRopeFunction=LigerRopeFunction)
