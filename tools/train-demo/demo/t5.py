"""Compact T5 v1.1 encoder (Hugging Face T5EncoderModel semantics, eval / dropout 0).

state_dict keys match transformers' T5EncoderModel exactly:
shared.weight, encoder.embed_tokens.weight (tied), encoder.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight,
encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight, encoder.block.{i}.layer.{0,1}.layer_norm.weight,
encoder.block.{i}.layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight, encoder.final_layer_norm.weight.
"""
import math

import torch
import torch.nn as nn


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class T5LayerNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return self.weight * x


def relative_position_bucket(rel, num_buckets, max_distance):
    # bidirectional
    num_buckets //= 2
    ret = (rel > 0).to(torch.long) * num_buckets
    n = rel.abs()
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(is_small, n, large)


class T5Attention(nn.Module):
    def __init__(self, d_model, num_heads, d_kv, has_bias, num_buckets, max_distance):
        super().__init__()
        inner = num_heads * d_kv
        self.h, self.d = num_heads, d_kv
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.q = nn.Linear(d_model, inner, bias=False)
        self.k = nn.Linear(d_model, inner, bias=False)
        self.v = nn.Linear(d_model, inner, bias=False)
        self.o = nn.Linear(inner, d_model, bias=False)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)

    def compute_bias(self, Lq, Lk):
        dev = self.relative_attention_bias.weight.device
        ctx = torch.arange(Lq, dtype=torch.long, device=dev)[:, None]
        mem = torch.arange(Lk, dtype=torch.long, device=dev)[None, :]
        buckets = relative_position_bucket(mem - ctx, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (1,H,Lq,Lk)

    def forward(self, x, bias):
        B, L, _ = x.shape
        sh = lambda t: t.view(B, L, self.h, self.d).transpose(1, 2)
        q, k, v = sh(self.q(x)), sh(self.k(x)), sh(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias  # no 1/sqrt(d) in T5
        w = torch.softmax(scores.float(), dim=-1).type_as(scores)
        out = torch.matmul(w, v).transpose(1, 2).reshape(B, L, self.h * self.d)
        return self.o(out)


class _SelfAttnLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_kv, has_bias, nb, md):
        super().__init__()
        self.SelfAttention = T5Attention(d_model, num_heads, d_kv, has_bias, nb, md)
        self.layer_norm = T5LayerNorm(d_model)

    def forward(self, x, bias):
        return x + self.SelfAttention(self.layer_norm(x), bias)


class _DenseGatedActDense(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.wi_0 = nn.Linear(d_model, d_ff, bias=False)
        self.wi_1 = nn.Linear(d_model, d_ff, bias=False)
        self.wo = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        return self.wo(gelu_new(self.wi_0(x)) * self.wi_1(x))


class _FFLayer(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.DenseReluDense = _DenseGatedActDense(d_model, d_ff)
        self.layer_norm = T5LayerNorm(d_model)

    def forward(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Block(nn.Module):
    def __init__(self, d_model, num_heads, d_kv, d_ff, has_bias, nb, md):
        super().__init__()
        self.layer = nn.ModuleList([_SelfAttnLayer(d_model, num_heads, d_kv, has_bias, nb, md), _FFLayer(d_model, d_ff)])

    def forward(self, x, bias):
        return self.layer[1](self.layer[0](x, bias))


class _Stack(nn.Module):
    def __init__(self, embed, d_model, num_layers, num_heads, d_kv, d_ff, nb, md):
        super().__init__()
        self.embed_tokens = embed
        self.block = nn.ModuleList(
            [T5Block(d_model, num_heads, d_kv, d_ff, i == 0, nb, md) for i in range(num_layers)]
        )
        self.final_layer_norm = T5LayerNorm(d_model)


class T5Encoder(nn.Module):
    def __init__(self, vocab_size, d_model, num_layers, num_heads, d_kv, d_ff,
                 relative_attention_num_buckets=32, relative_attention_max_distance=128):
        super().__init__()
        self.shared = nn.Embedding(vocab_size, d_model)
        self.encoder = _Stack(self.shared, d_model, num_layers, num_heads, d_kv, d_ff,
                              relative_attention_num_buckets, relative_attention_max_distance)

    def forward(self, input_ids, attention_mask=None):
        enc = self.encoder
        x = enc.embed_tokens(input_ids)  # no scaling in T5
        B, L = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones(B, L, dtype=torch.long, device=input_ids.device)
        ext = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        bias = enc.block[0].layer[0].SelfAttention.compute_bias(L, L).to(x.dtype) + ext  # (B,H,L,L)
        for blk in enc.block:
            x = blk(x, bias)
        return enc.final_layer_norm(x)
