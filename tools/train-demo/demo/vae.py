"""Open-Sora v1.2 video VAE (OpenSoraVAE_V1_2 / VideoAutoencoderPipeline) at toy sizes.

Compact re-implementation for dev-only training. state_dict keys and shapes match the real
checkpoint: spatial_vae.module.* (diffusers AutoencoderKL), temporal_vae.* (VAE_Temporal),
scale, shift.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

SPATIAL_SCALE = 0.18215  # hard-coded in Open-Sora's VideoAutoencoderKL (not config.scaling_factor)


def _dist(moments):
    mean, logvar = moments.chunk(2, dim=1)
    return mean, logvar.clamp(-30.0, 20.0)


def _sample(mean, logvar, noise=None, generator=None):
    if noise is None:
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device="cpu").to(mean.device)
    return mean + torch.exp(0.5 * logvar) * noise.to(mean)


# ----------------------------------------------------------------------------- spatial (diffusers)
class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Attention2D(nn.Module):
    """diffusers Attention as used in UNetMidBlock2D of the VAE: one head of size C."""

    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.group_norm(x).view(B, C, H * W).transpose(1, 2)
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)
        a = torch.softmax((q @ k.transpose(1, 2)) * C ** -0.5, dim=-1) @ v
        h = self.to_out[0](a).transpose(1, 2).reshape(B, C, H, W)
        return h + x


class MidBlock2D(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.attentions = nn.ModuleList([Attention2D(c, groups)])
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, groups), ResnetBlock2D(c, c, groups)])

    def forward(self, x):
        x = self.resnets[0](x)
        return self.resnets[1](self.attentions[0](x))


class _Conv(nn.Module):  # holder so keys read downsamplers.0.conv.* / upsamplers.0.conv.*
    def __init__(self, c, stride, padding):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=stride, padding=padding)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, cin, cout, layers, groups, down):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.downsamplers = nn.ModuleList([_Conv(cout, 2, 0)]) if down else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0].conv(F.pad(x, (0, 1, 0, 1)))
        return x


class UpDecoderBlock2D(nn.Module):
    def __init__(self, cin, cout, layers, groups, up):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.upsamplers = nn.ModuleList([_Conv(cout, 1, 1)]) if up else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.upsamplers is not None:
            x = self.upsamplers[0].conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class Encoder2D(nn.Module):
    def __init__(self, cin, latent, ch, layers, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(cin, ch[0], 3, padding=1)
        blocks, prev = [], ch[0]
        for i, c in enumerate(ch):
            blocks.append(DownEncoderBlock2D(prev, c, layers, groups, i < len(ch) - 1))
            prev = c
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = MidBlock2D(ch[-1], groups)
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * latent, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder2D(nn.Module):
    def __init__(self, latent, cout, ch, layers, groups):
        super().__init__()
        rch = list(reversed(ch))
        self.conv_in = nn.Conv2d(latent, rch[0], 3, padding=1)
        self.mid_block = MidBlock2D(rch[0], groups)
        blocks, prev = [], rch[0]
        for i, c in enumerate(rch):
            blocks.append(UpDecoderBlock2D(prev, c, layers + 1, groups, i < len(ch) - 1))
            prev = c
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], cout, 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32,
                 latent_channels=4, in_channels=3, out_channels=3):
        super().__init__()
        ch = list(block_out_channels)
        self.encoder = Encoder2D(in_channels, latent_channels, ch, layers_per_block, norm_num_groups)
        self.decoder = Decoder2D(latent_channels, out_channels, ch, layers_per_block, norm_num_groups)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        self.downscale = 2 ** (len(ch) - 1)

    def encode_dist(self, x):
        """x [N,3,H,W] -> (mean, logvar) [N,4,H/8,W/8] (unscaled, logvar clamped)."""
        return _dist(self.quant_conv(self.encoder(x)))

    def decode(self, z):
        """z [N,4,h,w] (unscaled) -> x [N,3,H,W]."""
        return self.decoder(self.post_quant_conv(z))


class SpatialVAE(nn.Module):  # Open-Sora VideoAutoencoderKL wrapper: keys spatial_vae.module.*
    def __init__(self, **kw):
        super().__init__()
        self.module = AutoencoderKL(**kw)

    def encode(self, x, sample=True, generator=None, noise=None):
        B, C, T, H, W = x.shape
        f = x.permute(0, 2, 1, 3, 4).reshape(B * T, C, H, W)
        mean, logvar = self.module.encode_dist(f)
        z = _sample(mean, logvar, noise, generator) if sample else mean
        z = z * SPATIAL_SCALE
        return z.reshape(B, T, *z.shape[1:]).permute(0, 2, 1, 3, 4)

    def decode(self, z):
        B, C, T, h, w = z.shape
        f = z.permute(0, 2, 1, 3, 4).reshape(B * T, C, h, w)
        x = self.module.decode(f / SPATIAL_SCALE)
        return x.reshape(B, T, *x.shape[1:]).permute(0, 2, 1, 3, 4)


# ----------------------------------------------------------------------------- temporal (Open-Sora)
class CausalConv3d(nn.Module):
    def __init__(self, cin, cout, k, stride_t=1, bias=True):
        super().__init__()
        k = (k, k, k) if isinstance(k, int) else tuple(k)
        self.time_pad = (k[0] - 1) + (1 - stride_t)
        self.pad = (k[2] // 2, k[2] // 2, k[1] // 2, k[1] // 2, self.time_pad, 0)
        self.conv = nn.Conv3d(cin, cout, k, stride=(stride_t, 1, 1), bias=bias)

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class ResBlock3D(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)  # eps 1e-5 (torch default)
        self.conv1 = CausalConv3d(cin, cout, 3, bias=False)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = CausalConv3d(cout, cout, 3, bias=False)
        self.conv3 = CausalConv3d(cin, cout, 1, bias=False) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.conv3(x) if self.conv3 is not None else x)


class Encoder3D(nn.Module):
    def __init__(self, cin, emb, filters, nres, mult, tdown, groups):
        super().__init__()
        self.nres, self.nb = nres, len(mult)
        self.conv_in = CausalConv3d(cin, filters, 3, bias=False)
        self.block_res_blocks, self.conv_blocks = nn.ModuleList(), nn.ModuleList()
        prev = filters
        for i, m in enumerate(mult):
            f = filters * m
            items = nn.ModuleList()
            for _ in range(nres):
                items.append(ResBlock3D(prev, f, groups))
                prev = f
            self.block_res_blocks.append(items)
            if i < self.nb - 1:
                self.conv_blocks.append(CausalConv3d(prev, f, 3, stride_t=2) if tdown[i] else nn.Identity())
                prev = f
        self.res_blocks = nn.ModuleList([ResBlock3D(prev if j == 0 else f, f, groups) for j in range(nres)])
        self.norm1 = nn.GroupNorm(groups, f)
        self.conv2 = CausalConv3d(f, emb, 1)

    def forward(self, x):
        x = self.conv_in(x)
        for i in range(self.nb):
            for r in self.block_res_blocks[i]:
                x = r(x)
            if i < self.nb - 1:
                x = self.conv_blocks[i](x)
        for r in self.res_blocks:
            x = r(x)
        return self.conv2(F.silu(self.norm1(x)))


class Decoder3D(nn.Module):
    def __init__(self, cout, emb, filters, nres, mult, tdown, groups):
        super().__init__()
        self.nres, self.nb, self.tdown = nres, len(mult), list(tdown)
        f = filters * mult[-1]
        self.conv1 = CausalConv3d(emb, f, 3)
        self.res_blocks = nn.ModuleList([ResBlock3D(f, f, groups) for _ in range(nres)])
        blocks, convs, prev = [None] * self.nb, [None] * (self.nb - 1), f
        for i in reversed(range(self.nb)):
            f = filters * mult[i]
            items = nn.ModuleList()
            for _ in range(nres):
                items.append(ResBlock3D(prev, f, groups))
                prev = f
            blocks[i] = items
            if i > 0:
                convs[i - 1] = CausalConv3d(prev, prev * 2, 3) if tdown[i - 1] else nn.Identity()
        self.block_res_blocks = nn.ModuleList(blocks)
        self.conv_blocks = nn.ModuleList(convs)
        self.norm1 = nn.GroupNorm(groups, prev)
        self.conv_out = CausalConv3d(f, cout, 3)

    def forward(self, x):
        x = self.conv1(x)
        for r in self.res_blocks:
            x = r(x)
        for i in reversed(range(self.nb)):
            for r in self.block_res_blocks[i]:
                x = r(x)
            if i > 0:
                x = self.conv_blocks[i - 1](x)
                if self.tdown[i - 1]:  # depth-to-time: B (C ts) T H W -> B C (T ts) H W
                    B, C2, T, H, W = x.shape
                    x = x.view(B, C2 // 2, 2, T, H, W).permute(0, 1, 3, 2, 4, 5).reshape(B, C2 // 2, T * 2, H, W)
        return self.conv_out(F.silu(self.norm1(x)))


class TemporalVAE(nn.Module):
    def __init__(self, filters=128, channel_multipliers=(1, 2, 2, 4), num_res_blocks=4, num_groups=32,
                 temporal_downsample=(False, True, True), latent_embed_dim=4, embed_dim=4, in_out_channels=4):
        super().__init__()
        self.tdf = 2 ** sum(bool(t) for t in temporal_downsample)
        args = (filters, num_res_blocks, list(channel_multipliers), list(temporal_downsample), num_groups)
        self.encoder = Encoder3D(in_out_channels, 2 * latent_embed_dim, *args)
        self.quant_conv = CausalConv3d(2 * latent_embed_dim, 2 * embed_dim, 1)
        self.post_quant_conv = CausalConv3d(embed_dim, latent_embed_dim, 1)
        self.decoder = Decoder3D(in_out_channels, latent_embed_dim, *args)

    def _tpad(self, n):
        return (-n) % self.tdf

    def get_latent_t(self, n):
        return (n + self._tpad(n)) // self.tdf

    def encode_dist(self, x):
        """x [B,4,T,h,w] -> (mean, logvar) [B,4,ceil(T/4),h,w]; zero-pads the front to a multiple of 4."""
        x = F.pad(x, (0, 0, 0, 0, self._tpad(x.shape[2]), 0))
        return _dist(self.quant_conv(self.encoder(x)))

    def decode(self, z, num_frames):
        x = self.decoder(self.post_quant_conv(z))
        return x[:, :, self._tpad(num_frames):]


# ----------------------------------------------------------------------------- pipeline
class VideoAutoencoder(nn.Module):
    def __init__(self, spatial: dict, temporal: dict, micro_frame_size: int, shift=None, scale=None):
        super().__init__()
        self.spatial_vae = SpatialVAE(**spatial)
        self.temporal_vae = TemporalVAE(**temporal)
        self.micro_frame_size = micro_frame_size
        self.micro_z_frame_size = self.temporal_vae.get_latent_t(micro_frame_size)
        shift = torch.zeros(4) if shift is None else torch.as_tensor(shift, dtype=torch.float32)
        scale = torch.ones(4) if scale is None else torch.as_tensor(scale, dtype=torch.float32)
        self.register_buffer("scale", scale.reshape(1, -1, 1, 1, 1).clone())
        self.register_buffer("shift", shift.reshape(1, -1, 1, 1, 1).clone())

    def encode(self, x, sample=True, generator=None, noise=None):
        """x [B,3,T,H,W] -> z [B,4,t,H/8,W/8]. noise: optional (spatial [(B T),4,h,w], [temporal chunk noises])."""
        sn, tn = (None, None) if noise is None else noise
        x_z = self.spatial_vae.encode(x, sample, generator, sn)
        zs = []
        for k, i in enumerate(range(0, x_z.shape[2], self.micro_frame_size)):
            mean, logvar = self.temporal_vae.encode_dist(x_z[:, :, i:i + self.micro_frame_size])
            zs.append(_sample(mean, logvar, None if tn is None else tn[k], generator) if sample else mean)
        z = torch.cat(zs, dim=2)
        return (z - self.shift) / self.scale

    def decode(self, z, num_frames):
        z = z * self.scale + self.shift
        outs = []
        for i in range(0, z.shape[2], self.micro_z_frame_size):
            outs.append(self.temporal_vae.decode(z[:, :, i:i + self.micro_z_frame_size],
                                                 num_frames=min(self.micro_frame_size, num_frames)))
            num_frames -= self.micro_frame_size
        return self.spatial_vae.decode(torch.cat(outs, dim=2))

    def get_latent_size(self, T, H, W):
        d = self.spatial_vae.module.downscale
        m = self.micro_frame_size
        t = self.micro_z_frame_size * (T // m)
        if T % m:
            t += self.temporal_vae.get_latent_t(T % m)
        return t, H // d, W // d
