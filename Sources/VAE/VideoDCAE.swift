// Video DC-AE (opensora/models/dc_ae, dc-ae-f32t4c128: Open-Sora 2.0's high-compression
// autoencoder): 32x in space, 4x in time, deterministic. Non-causal zero-padded 3D convs,
// RMSNorm over channels, residual ResBlocks in the early stages and EfficientViT blocks
// (ReLU linear attention + gated MBConv) in the deep ones; down/up blocks add a pixel-unshuffle
// averaging / channel-duplicating pixel-shuffle shortcut around their conv.
//
//   encode: x [B, 3, T, H, W] -> project_in -> stages 0...5 (blocks, then a downsample block but
//           the last; time /2 in the temporal stages) -> project_out (+ averaging shortcut)
//           -> z [B, latent, T/4, H/32, W/32] (T = 1 stays 1)  [/ scaling_factor if set]
//   decode: z [* scaling_factor] -> project_in (+ duplicating shortcut) -> stages 5...0 (an
//           upsample block but the deepest, then blocks) -> RMSNorm, ReLU, conv -> [B, 3, 4t, 32h, 32w]

import TensorCore
import Weights

public struct VideoDCAEConfig: Sendable, Equatable {
    public var inChannels = 3, latentChannels = 128
    public var widths = [128, 256, 512, 512, 1024, 1024]
    public var encoderDepths = [2, 2, 2, 3, 3, 3], decoderDepths = [3, 3, 3, 3, 3, 3]
    /// Stages built from EfficientViT blocks (the others from ResBlocks).
    public var encoderViTStages = [false, false, false, true, true, true], decoderViTStages = [false, false, false, true, true, true]
    /// Stages whose down/up block also halves/doubles time (not visible in tensor shapes).
    public var temporalStages = [false, false, false, true, true, false]
    /// LiteMLA head width (not visible in tensor shapes separately from the head count).
    public var headDim = 32
    /// encode divides by it and decode multiplies first; nil (no scaling) in the inference configs.
    public var scalingFactor: Float? = nil
    public var useSpatialTiling = true, useTemporalTiling = true
    public var spatialTileSize = 256, temporalTileSize = 32
    public var tileOverlap = 0.25

    public init() {}

    /// dc-ae-f32t4c128 with Open-Sora 2.0's inference settings (configs/vae/inference/video_dc_ae.py).
    public static let openSora2 = VideoDCAEConfig()

    public var spatialCompression: Int { 1 << (widths.count - 1) }
    public var timeCompression: Int { 1 << temporalStages.filter { $0 }.count }
    var spatialTileLatent: Int { spatialTileSize / spatialCompression }
    var temporalTileLatent: Int { temporalTileSize / timeCompression }

    /// Latent [t, h, w]: t = T/4 (an image stays 1 frame), h = H/32.
    public func latentSize(frames: Int, height: Int, width: Int) -> [Int] {
        [frames == 1 ? 1 : frames / timeCompression, height / spatialCompression, width / spatialCompression]
    }

    /// Widths, depths, block kinds and the latent width from the checkpoint; everything else from `base`.
    public static func infer(from store: WeightStore, base: VideoDCAEConfig = .openSora2) throws -> VideoDCAEConfig {
        var c = base
        var widths: [Int] = [], encDepths: [Int] = [], encViT: [Bool] = []
        while store.contains("encoder.stages.\(widths.count).op_list.0.main.conv1.conv.weight")
                || store.contains("encoder.stages.\(widths.count).op_list.0.context_module.main.qkv.conv.weight") {
            let s = "encoder.stages.\(widths.count).op_list"
            let vit = store.contains("\(s).0.context_module.main.qkv.conv.weight")
            widths.append(try store.shape(vit ? "\(s).0.context_module.main.qkv.conv.weight" : "\(s).0.main.conv1.conv.weight")[1])
            var depth = 0
            while store.contains("\(s).\(depth).main.conv1.conv.weight") || store.contains("\(s).\(depth).context_module.main.qkv.conv.weight") { depth += 1 }
            encDepths.append(depth)
            encViT.append(vit)
        }
        guard !widths.isEmpty else {
            throw WeightsError.missingTensor(name: "encoder.stages.0.op_list.0.main.conv1.conv.weight", source: store.sourceDescription)
        }
        var decDepths: [Int] = [], decViT: [Bool] = []
        for i in widths.indices {
            let s = "decoder.stages.\(i).op_list"
            let first = i < widths.count - 1 ? 1 : 0             // op 0 is the upsample block
            var depth = 0
            while store.contains("\(s).\(first + depth).main.conv1.conv.weight")
                    || store.contains("\(s).\(first + depth).context_module.main.qkv.conv.weight") { depth += 1 }
            decDepths.append(depth)
            decViT.append(store.contains("\(s).\(first).context_module.main.qkv.conv.weight"))
        }
        let convIn = try store.shape("encoder.project_in.conv.weight")
        let latentOut = try store.shape("encoder.project_out.main.op_list.0.conv.weight")
        guard convIn.count == 5, latentOut.count == 5 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "encoder.project_in.conv.weight",
                                         detail: "expected 5-D conv weights (a video DC-AE), found \(convIn)")
        }
        c.inChannels = convIn[1]
        c.latentChannels = latentOut[0]
        c.widths = widths
        c.encoderDepths = encDepths; c.decoderDepths = decDepths
        c.encoderViTStages = encViT; c.decoderViTStages = decViT
        if c.temporalStages.count != widths.count {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "encoder.stages.\(widths.count - 1)",
                                         detail: "\(widths.count) stages, but \(c.temporalStages.count) temporal-stage flags are configured")
        }
        return c
    }

    /// Every parameter and its shape (manifests, random-weight benchmarks).
    public func parameterShapes() -> [(String, [Int])] {
        var p: [(String, [Int])] = []
        func conv(_ n: String, _ i: Int, _ o: Int, _ k: Int, bias: Bool = true, norm: Bool = false) {
            p.append((n + ".conv.weight", [o, i, k, k, k]))
            if bias { p.append((n + ".conv.bias", [o])) }
            if norm { p.append((n + ".norm.weight", [o])); p.append((n + ".norm.bias", [o])) }
        }
        func block(_ n: String, _ c: Int, vit: Bool) {
            if !vit { conv(n + ".main.conv1", c, c, 3); conv(n + ".main.conv2", c, c, 3, bias: false, norm: true); return }
            let m = n + ".context_module.main", qkv = 3 * c
            conv(m + ".qkv", c, qkv, 1, bias: false)
            p.append((m + ".aggreg.0.0.weight", [qkv, 1, 5, 5, 5])); p.append((m + ".aggreg.0.1.weight", [qkv, headDim, 1, 1, 1]))
            conv(m + ".proj", 2 * c, c, 1, bias: false, norm: true)
            let l = n + ".local_module.main"
            conv(l + ".inverted_conv", c, 8 * c, 1)
            p.append((l + ".depth_conv.conv.weight", [8 * c, 1, 3, 3, 3])); p.append((l + ".depth_conv.conv.bias", [8 * c]))
            conv(l + ".point_conv", 4 * c, c, 1, bias: false, norm: true)
        }
        let n = widths.count
        conv("encoder.project_in", inChannels, widths[0], 3)
        for i in 0..<n {
            for j in 0..<encoderDepths[i] { block("encoder.stages.\(i).op_list.\(j)", widths[i], vit: encoderViTStages[i]) }
            if i < n - 1 {
                p.append(("encoder.stages.\(i).op_list.\(encoderDepths[i]).main.conv.weight", [widths[i + 1], widths[i], 3, 3, 3]))
                p.append(("encoder.stages.\(i).op_list.\(encoderDepths[i]).main.conv.bias", [widths[i + 1]]))
            }
        }
        conv("encoder.project_out.main.op_list.0", widths[n - 1], latentChannels, 3)
        conv("decoder.project_in.main", latentChannels, widths[n - 1], 3)
        for i in 0..<n {
            let first = i < n - 1 ? 1 : 0
            if i < n - 1 { conv("decoder.stages.\(i).op_list.0.main.conv", widths[i + 1], widths[i], 3) }
            for j in 0..<decoderDepths[i] { block("decoder.stages.\(i).op_list.\(first + j)", widths[i], vit: decoderViTStages[i]) }
        }
        p.append(("decoder.project_out.op_list.0.weight", [widths[0]])); p.append(("decoder.project_out.op_list.0.bias", [widths[0]]))
        conv("decoder.project_out.op_list.2", widths[0], inChannels, 3)
        return p
    }
}

// MARK: layers

/// RMSNorm3d: over channels, eps 1e-5, with weight and bias.
struct ChannelRMSNorm {
    let weight: WeightTensor, bias: WeightTensor
    init(_ store: WeightStore, _ name: String, channels c: Int) throws {
        weight = try store.weight(name + ".weight", shape: [c])
        bias = try store.weight(name + ".bias", shape: [c])
    }
    func callAsFunction(_ x: Tensor) -> Tensor { rmsNormChannels(x, weight: weight, bias: bias, eps: 1e-5) }
}

/// DC-AE's ConvLayer: a zero-padded (k/2 on all six sides) conv "name.conv", then an optional
/// RMSNorm "name.norm", then an optional activation.
struct DCConvLayer {
    enum Activation { case none, silu, relu }
    let conv: Conv
    let norm: ChannelRMSNorm?
    let activation: Activation

    init(_ store: WeightStore, _ convName: String, in i: Int, out o: Int, kernel k: Int, bias: Bool = true,
         normName: String? = nil, activation: Activation = .none, stride: (Int, Int, Int) = (1, 1, 1)) throws {
        conv = try Conv(store, convName, in: i, out: o, kernel: [k, k, k], bias: bias, stride: stride,
                        padding: .spatial(k / 2, front: k / 2, back: k / 2))
        norm = try normName.map { try ChannelRMSNorm(store, $0, channels: o) }
        self.activation = activation
    }

    /// A ConvLayer with its norm under the same prefix ("name.conv", "name.norm").
    init(_ store: WeightStore, _ name: String, in i: Int, out o: Int, kernel k: Int, bias: Bool, norm: Bool,
         activation: Activation = .none) throws {
        try self.init(store, name + ".conv", in: i, out: o, kernel: k, bias: bias, normName: norm ? name + ".norm" : nil,
                      activation: activation)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv(x)
        if let norm { y = norm(y) }
        switch activation {
        case .none: break
        case .silu: siluInPlace(&y)
        case .relu: mapInPlace(&y) { max($0, 0) }
        }
        return y
    }
}

/// x + conv2(conv1(x)): conv1 3x3x3 + SiLU, conv2 3x3x3 without bias + RMSNorm.
struct DCResBlock {
    let conv1: DCConvLayer, conv2: DCConvLayer
    init(_ store: WeightStore, _ name: String, channels c: Int) throws {
        conv1 = try DCConvLayer(store, name + ".main.conv1", in: c, out: c, kernel: 3, bias: true, norm: false, activation: .silu)
        conv2 = try DCConvLayer(store, name + ".main.conv2", in: c, out: c, kernel: 3, bias: false, norm: true)
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv2(conv1(x))
        y.add(x)
        return y
    }
}

/// LiteMLA: multi-scale ReLU linear attention. qkv (1x1x1), plus per scale a depthwise k^3 and a
/// grouped 1x1x1 aggregation of it; every 3*d channel chunk is one head's q, k, v; then
/// out = ([v; 1] k^T) q, normalised by its last row; projection 1x1x1 + RMSNorm.
struct LiteMLA {
    let qkv: DCConvLayer
    let aggregations: [(depthwise: WeightTensor, pointwise: WeightTensor)]
    let proj: DCConvLayer
    let heads: Int, dim: Int

    init(_ store: WeightStore, _ name: String, channels c: Int, dim: Int) throws {
        let qkvShape = try store.shape(name + ".qkv.conv.weight")
        guard qkvShape.count == 5, qkvShape[0] % (3 * dim) == 0 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: name + ".qkv.conv.weight",
                                         detail: "\(qkvShape) is not 3 x heads x \(dim) output channels")
        }
        let width = qkvShape[0]
        heads = width / (3 * dim)
        self.dim = dim
        qkv = try DCConvLayer(store, name + ".qkv", in: c, out: width, kernel: 1, bias: false, norm: false)
        var aggs: [(WeightTensor, WeightTensor)] = []
        while store.contains("\(name).aggreg.\(aggs.count).0.weight") {
            let a = "\(name).aggreg.\(aggs.count)"
            let k = try store.shape(a + ".0.weight").last ?? 0
            aggs.append((try store.weight(a + ".0.weight", shape: [width, 1, k, k, k]),
                         try store.weight(a + ".1.weight", shape: [width, dim, 1, 1, 1])))
        }
        aggregations = aggs
        proj = try DCConvLayer(store, name + ".proj", in: width / 3 * (1 + aggs.count), out: c, kernel: 1, bias: false, norm: true)
    }

    /// x: [B, C, T, H, W] -> same shape (without the residual).
    func callAsFunction(_ x: Tensor) -> Tensor {
        let q0 = qkv(x)                                        // [B, 3Hd, T, H, W]
        var scales = [q0]
        for a in aggregations {
            scales.append(groupedPointwiseConv(depthwiseConv3d(q0, weight: a.depthwise, bias: nil), weight: a.pointwise, groups: 3 * heads))
        }
        let multi = scales.count == 1 ? q0 : concat(scales, axis: 1)    // [B, S*3Hd, T, H, W]
        let (b, d) = (x.shape[0], dim)
        let n = x.count / max(b * x.shape[1], 1)
        let allHeads = multi.shape[1] / (3 * d)
        var out = Tensor(uninitialized: [b, allHeads * d] + Array(x.shape[2...]))
        let mp = multi.pointer, op = out.mutablePointer
        let q = UnsafeMutablePointer<Float>.allocate(capacity: d * n), k = UnsafeMutablePointer<Float>.allocate(capacity: d * n)
        let vPad = UnsafeMutablePointer<Float>.allocate(capacity: (d + 1) * n)
        let vk = UnsafeMutablePointer<Float>.allocate(capacity: (d + 1) * d), res = UnsafeMutablePointer<Float>.allocate(capacity: (d + 1) * n)
        defer { q.deallocate(); k.deallocate(); vPad.deallocate(); vk.deallocate(); res.deallocate() }
        for bi in 0..<b {
            for h in 0..<allHeads {
                let base = mp + (bi * allHeads + h) * 3 * d * n
                for i in 0..<(d * n) { q[i] = max(base[i], 0); k[i] = max(base[d * n + i], 0) }
                vPad.update(from: base + 2 * d * n, count: d * n)
                (vPad + d * n).update(repeating: 1, count: n)
                // vk = [v; 1] k^T: [d+1, d]; res = vk q: [d+1, N]
                sgemm(transB: true, m: d + 1, n: d, k: n, a: vPad, lda: n, b: k, ldb: n, c: vk, ldc: d)
                sgemm(m: d + 1, n: n, k: d, a: vk, lda: d, b: q, ldb: n, c: res, ldc: n)
                let dst = op + (bi * allHeads + h) * d * n, denom = res + d * n
                for c in 0..<d { for i in 0..<n { dst[c * n + i] = res[c * n + i] / (denom[i] + 1e-15) } }
            }
        }
        return proj(out)
    }
}

/// GLUMBConv: 1x1x1 + SiLU, depthwise 3x3x3, value * SiLU(gate), 1x1x1 without bias + RMSNorm.
struct GLUMBConv {
    let inverted: DCConvLayer
    let depthWeight: WeightTensor, depthBias: WeightTensor
    let point: DCConvLayer

    init(_ store: WeightStore, _ name: String, channels c: Int) throws {
        let wide = try store.shape(name + ".inverted_conv.conv.weight").first ?? 0
        guard wide > 0, wide % 2 == 0 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: name + ".inverted_conv.conv.weight",
                                         detail: "needs an even number of output channels (value and gate)")
        }
        inverted = try DCConvLayer(store, name + ".inverted_conv", in: c, out: wide, kernel: 1, bias: true, norm: false, activation: .silu)
        depthWeight = try store.weight(name + ".depth_conv.conv.weight", shape: [wide, 1, 3, 3, 3])
        depthBias = try store.weight(name + ".depth_conv.conv.bias", shape: [wide])
        point = try DCConvLayer(store, name + ".point_conv", in: wide / 2, out: c, kernel: 1, bias: false, norm: true)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = depthwiseConv3d(inverted(x), weight: depthWeight, bias: depthBias)   // [B, 2M, T, H, W]
        let (b, m2) = (h.shape[0], h.shape[1])
        let n = h.count / max(b * m2, 1), m = m2 / 2
        var gated = Tensor(uninitialized: [b, m] + Array(h.shape[2...]))
        let hp = SendablePointer(h.pointer), gp = SendablePointer(gated.mutablePointer)
        parallelFor(b * m) { r in
            for plane in r {
                let (bi, c) = (plane / m, plane % m)
                let value = hp.p + (bi * m2 + c) * n, gate = hp.p + (bi * m2 + m + c) * n, dst = gp.p + plane * n
                for i in 0..<n { let g = gate[i]; dst[i] = value[i] * (g / (1 + expApprox(-g))) }
            }
        }
        return point(gated)
    }
}

/// EfficientViT block: x + LiteMLA(x), then + GLUMBConv.
struct EfficientViTBlock {
    let context: LiteMLA, local: GLUMBConv
    init(_ store: WeightStore, _ name: String, channels c: Int, dim: Int) throws {
        context = try LiteMLA(store, name + ".context_module.main", channels: c, dim: dim)
        local = try GLUMBConv(store, name + ".local_module.main", channels: c)
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = context(x)
        h.add(x)
        var y = local(h)
        y.add(h)
        return y
    }
}

enum DCBlock {
    case res(DCResBlock), vit(EfficientViTBlock)
    init(_ store: WeightStore, _ name: String, channels c: Int, vit: Bool, dim: Int) throws {
        self = vit ? .vit(try EfficientViTBlock(store, name, channels: c, dim: dim)) : .res(try DCResBlock(store, name, channels: c))
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case let .res(b): return b(x)
        case let .vit(b): return b(x)
        }
    }
}

// MARK: shortcuts

/// Pixel-unshuffle by (ft, fs, fs) (channel order c*f + dt*fs*fs + dy*fs + dx) then the mean of
/// consecutive groups of channels down to `out`. x: [B, C, T, H, W] -> [B, out, T/ft, H/fs, W/fs].
func unshuffleAveraging(_ x: Tensor, out o: Int, time ft: Int, space fs: Int) -> Tensor {
    let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let f = ft * fs * fs, group = c * f / o
    let (to, ho, wo) = (t / ft, h / fs, w / fs)
    var y = Tensor(uninitialized: [b, o, to, ho, wo])
    let xs = SendablePointer(x.pointer), ys = SendablePointer(y.mutablePointer)
    parallelFor(b * o) { r in
        for plane in r {
            let (bi, oc) = (plane / o, plane % o)
            let dst = ys.p + plane * to * ho * wo
            dst.update(repeating: 0, count: to * ho * wo)
            for g in 0..<group {
                let u = oc * group + g
                let (ci, rest) = (u / f, u % f)
                let (dt, dy, dx) = (rest / (fs * fs), (rest / fs) % fs, rest % fs)
                let src = xs.p + (bi * c + ci) * t * h * w
                for ot in 0..<to { for oh in 0..<ho {
                    let s = src + ((ot * ft + dt) * h + oh * fs + dy) * w + dx, d = dst + (ot * ho + oh) * wo
                    for ow in 0..<wo { d[ow] += s[ow * fs] }
                } }
            }
            let inv = Float(group)
            for i in 0..<(to * ho * wo) { dst[i] /= inv }
        }
    }
    return y
}

/// Each channel repeated consecutively up to out * f channels, then pixel-shuffled by (ft, fs, fs).
/// x: [B, C, T, H, W] -> [B, out, T*ft, H*fs, W*fs].
func duplicatingShuffle(_ x: Tensor, out o: Int, time ft: Int, space fs: Int) -> Tensor {
    let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let f = ft * fs * fs, repeats = o * f / c
    let (to, ho, wo) = (t * ft, h * fs, w * fs)
    var y = Tensor(uninitialized: [b, o, to, ho, wo])
    let xs = SendablePointer(x.pointer), ys = SendablePointer(y.mutablePointer)
    parallelFor(b * o) { r in
        for plane in r {
            let (bi, oc) = (plane / o, plane % o)
            let dst = ys.p + plane * to * ho * wo
            for ot in 0..<to { for oh in 0..<ho {
                let (it, dt, ih, dy) = (ot / ft, ot % ft, oh / fs, oh % fs)
                let d = dst + (ot * ho + oh) * wo
                for ow in 0..<wo {
                    let u = oc * f + dt * fs * fs + dy * fs + ow % fs
                    d[ow] = xs.p[(((bi * c + u / repeats) * t + it) * h + ih) * w + ow / fs]
                }
            } }
        }
    }
    return y
}

/// Nearest upsampling by 2 in H, W and, with `time`, in T (each frame twice).
func upsampleNearest3D(_ x: Tensor, time: Bool) -> Tensor {
    let up = upsampleNearest(x, scaleH: 2, scaleW: 2)
    guard time else { return up }
    let (planes, t, hw) = (x.shape[0] * x.shape[1], x.shape[2], up.shape[3] * up.shape[4])
    var out = Tensor(uninitialized: [x.shape[0], x.shape[1], 2 * t, up.shape[3], up.shape[4]])
    let src = up.pointer, dst = out.mutablePointer
    for p in 0..<planes { for ot in 0..<(2 * t) { (dst + (p * 2 * t + ot) * hw).update(from: src + (p * t + ot / 2) * hw, count: hw) } }
    return out
}

/// Encoder down block: stride-2 conv + averaging shortcut (time too in temporal stages unless T = 1).
struct DCDownBlock {
    let conv: DCConvLayer, out: Int, temporal: Bool
    init(_ store: WeightStore, _ name: String, in i: Int, out o: Int, temporal: Bool) throws {
        conv = try DCConvLayer(store, name + ".main.conv", in: i, out: o, kernel: 3, stride: (temporal ? 2 : 1, 2, 2))
        out = o; self.temporal = temporal
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv(x)
        y.add(unshuffleAveraging(x, out: out, time: temporal && x.shape[2] != 1 ? 2 : 1, space: 2))
        return y
    }
}

/// Decoder up block: nearest x2 then conv, + duplicating pixel-shuffle shortcut.
struct DCUpBlock {
    let conv: DCConvLayer, out: Int, temporal: Bool
    init(_ store: WeightStore, _ name: String, in i: Int, out o: Int, temporal: Bool) throws {
        conv = try DCConvLayer(store, name + ".main.conv", in: i, out: o, kernel: 3, bias: true, norm: false)
        out = o; self.temporal = temporal
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        let time = temporal && x.shape[2] != 1
        var y = conv(upsampleNearest3D(x, time: time))
        y.add(duplicatingShuffle(x, out: out, time: time ? 2 : 1, space: 2))
        return y
    }
}

// MARK: the model

public struct VideoDCAE: VideoAutoencoder {
    public let config: VideoDCAEConfig
    let encIn: DCConvLayer, encStages: [(blocks: [DCBlock], down: DCDownBlock?)], encOut: DCConvLayer
    let decIn: DCConvLayer, decStages: [(up: DCUpBlock?, blocks: [DCBlock])], decNorm: ChannelRMSNorm, decOut: DCConvLayer

    public init(store: WeightStore, config c: VideoDCAEConfig) throws {
        let n = c.widths.count, w = c.widths
        guard n > 0, [c.encoderDepths.count, c.decoderDepths.count, c.encoderViTStages.count, c.decoderViTStages.count,
                      c.temporalStages.count].allSatisfy({ $0 == n }) else {
            throw VAEError.badInput("DC-AE config: every per-stage list needs \(n) entries")
        }
        guard c.scalingFactor.map({ $0 != 0 && $0.isFinite }) ?? true, c.tileOverlap >= 0, c.tileOverlap < 1,
              c.spatialTileSize >= c.spatialCompression, c.temporalTileSize >= c.timeCompression else {
            throw VAEError.badInput("DC-AE config: scaling factor must be finite and non-zero, tiles at least one latent, overlap in [0, 1)")
        }
        config = c
        encIn = try DCConvLayer(store, "encoder.project_in", in: c.inChannels, out: w[0], kernel: 3, bias: true, norm: false)
        encStages = try (0..<n).map { i in
            let s = "encoder.stages.\(i).op_list"
            let blocks = try (0..<c.encoderDepths[i]).map { try DCBlock(store, "\(s).\($0)", channels: w[i], vit: c.encoderViTStages[i], dim: c.headDim) }
            let down = i < n - 1 ? try DCDownBlock(store, "\(s).\(c.encoderDepths[i])", in: w[i], out: w[i + 1], temporal: c.temporalStages[i]) : nil
            return (blocks, down)
        }
        encOut = try DCConvLayer(store, "encoder.project_out.main.op_list.0", in: w[n - 1], out: c.latentChannels, kernel: 3, bias: true, norm: false)
        decIn = try DCConvLayer(store, "decoder.project_in.main", in: c.latentChannels, out: w[n - 1], kernel: 3, bias: true, norm: false)
        decStages = try (0..<n).map { i in
            let s = "decoder.stages.\(i).op_list"
            let up = i < n - 1 ? try DCUpBlock(store, "\(s).0", in: w[i + 1], out: w[i], temporal: c.temporalStages[i]) : nil
            let first = up == nil ? 0 : 1
            let blocks = try (0..<c.decoderDepths[i]).map { try DCBlock(store, "\(s).\(first + $0)", channels: w[i], vit: c.decoderViTStages[i], dim: c.headDim) }
            return (up, blocks)
        }
        decNorm = try ChannelRMSNorm(store, "decoder.project_out.op_list.0", channels: w[0])
        decOut = try DCConvLayer(store, "decoder.project_out.op_list.2", in: w[0], out: c.inChannels, kernel: 3, bias: true, norm: false)
    }

    public init(store: WeightStore, base: VideoDCAEConfig = .openSora2) throws {
        try self.init(store: store, config: VideoDCAEConfig.infer(from: store, base: base))
    }

    public var latentChannels: Int { config.latentChannels }
    public func latentSize(frames: Int, height: Int, width: Int) -> [Int] { config.latentSize(frames: frames, height: height, width: width) }

    /// One tile: x [B, 3, T, H, W] -> unscaled z [B, latent, t, h, w].
    func encodeTile(_ x: Tensor) -> Tensor {
        var h = encIn(x)
        for stage in encStages {
            for b in stage.blocks { h = b(h) }
            if let d = stage.down { h = d(h) }
        }
        var z = encOut(h)
        z.add(unshuffleAveraging(h, out: config.latentChannels, time: 1, space: 1))
        return z
    }

    /// One tile: unscaled z -> [B, 3, 4t (t = 1: 1), 32h, 32w]. Freed heap blocks go back to
    /// the kernel after each block (the stages' tensors grow, so they would not be reused).
    func decodeTile(_ z: Tensor) -> Tensor {
        var h = decIn(z)
        h.add(duplicatingShuffle(z, out: config.widths[config.widths.count - 1], time: 1, space: 1))
        for stage in decStages.reversed() {
            if let u = stage.up { h = u(h); HeapTuning.returnFreedMemory() }
            for b in stage.blocks { h = b(h); HeapTuning.returnFreedMemory() }
        }
        var y = decNorm(h)
        mapInPlace(&y) { max($0, 0) }
        return decOut(y)
    }

    // MARK: tiling (spatial_tiled_encode / temporal_tiled_encode and decode)

    func encodeSpatialTiles(_ x: Tensor) -> Tensor {
        let c = config, tile = c.spatialTileSize
        guard c.useSpatialTiling, x.shape[3] > tile || x.shape[4] > tile else { return encodeTile(x) }
        let extent = Int(Double(c.spatialTileLatent) * c.tileOverlap)
        return tiledSpatial(x, tile: tile, stride: Int(Double(tile) * (1 - c.tileOverlap)), blend: extent,
                            keep: c.spatialTileLatent - extent, encodeTile)
    }

    func encodeTiled(_ x: Tensor) -> Tensor {
        let c = config, tile = c.temporalTileSize
        guard c.useTemporalTiling, x.shape[2] > tile else { return encodeSpatialTiles(x) }
        let extent = Int(Double(c.temporalTileLatent) * c.tileOverlap)
        let tiling = TemporalTiling(take: tile, stride: Int(Double(tile) * (1 - c.tileOverlap)), blend: extent,
                                    keep: c.temporalTileLatent - extent, firstExtra: 0, dropFirst: false)
        return tiledTemporal(x, tiling, encodeSpatialTiles)
    }

    func decodeSpatialTiles(_ z: Tensor) -> Tensor {
        let c = config, lt = c.spatialTileLatent
        guard c.useSpatialTiling, z.shape[3] > lt || z.shape[4] > lt else { return decodeTile(z) }
        let extent = Int(Double(c.spatialTileSize) * c.tileOverlap)
        return tiledSpatial(z, tile: lt, stride: Int(Double(lt) * (1 - c.tileOverlap)), blend: extent,
                            keep: c.spatialTileSize - extent, decodeTile)
    }

    func decodeTiled(_ z: Tensor) -> Tensor {
        let c = config, lt = c.temporalTileLatent
        guard c.useTemporalTiling, z.shape[2] > lt else { return decodeSpatialTiles(z) }
        let extent = Int(Double(c.temporalTileSize) * c.tileOverlap)
        let tiling = TemporalTiling(take: lt, stride: Int(Double(lt) * (1 - c.tileOverlap)), blend: extent,
                                    keep: c.temporalTileSize - extent, firstExtra: 0, dropFirst: false)
        return tiledTemporal(z, tiling, decodeSpatialTiles)
    }

    // MARK: public API

    /// A clip this VAE takes: 1 frame or a multiple of 4, H and W multiples of 32.
    public func checkVideo(frames: Int, height: Int, width: Int) throws {
        let (ft, fs) = (config.timeCompression, config.spatialCompression)
        guard frames == 1 || (frames > 0 && frames % ft == 0) else {
            throw VAEError.badInput("the DC-AE takes 1 frame or a multiple of \(ft) frames (\(ft), \(2 * ft), ...), got \(frames)")
        }
        guard height % fs == 0, width % fs == 0, height > 0, width > 0 else {
            throw VAEError.badInput("the DC-AE takes heights and widths that are multiples of \(fs), got \(width) x \(height)")
        }
    }

    /// x: [B, 3, T, H, W] in [-1, 1], H and W multiples of 32, T 1 or a multiple of 4 ->
    /// z [B, latent, T/4, H/32, W/32] (divided by the scaling factor when one is set).
    /// Deterministic: only `.mode` (the model has no posterior to draw from; `.sample` is an error).
    public func encode(_ x: Tensor, sampling: LatentSampling = .mode) throws -> Tensor {
        if case .sample = sampling { throw VAEError.badInput("the DC-AE is deterministic: there is no posterior to sample from") }
        let c = config
        guard x.rank == 5, x.shape[1] == c.inChannels, x.shape[0] > 0, x.shape[2] > 0, x.shape[3] > 0, x.shape[4] > 0 else {
            throw VAEError.badInput("DC-AE encode expects [B, \(c.inChannels), T, H, W], got \(x.shape)")
        }
        try checkVideo(frames: x.shape[2], height: x.shape[3], width: x.shape[4])
        var z = encodeTiled(x)
        if let sf = c.scalingFactor { mapInPlace(&z) { $0 / sf } }
        return z
    }

    /// z: [B, latent, t, h, w] -> video [B, 3, 4t, 32h, 32w] (t = 1 decodes to one frame).
    public func decode(_ z: Tensor) throws -> Tensor {
        let c = config
        guard z.rank == 5, z.shape[1] == c.latentChannels, z.shape[0] > 0, z.shape[2] > 0, z.shape[3] > 0, z.shape[4] > 0 else {
            throw VAEError.badInput("DC-AE decode expects a latent [B, \(c.latentChannels), t, h, w], got \(z.shape)")
        }
        var u = z
        if let sf = c.scalingFactor { mapInPlace(&u) { $0 * sf } }
        return decodeTiled(u)
    }

    /// Decodes and keeps the first `numFrames` frames.
    public func decode(_ z: Tensor, numFrames: Int) throws -> Tensor {
        let t = z.rank == 5 ? z.shape[2] : 0
        let produced = t == 1 ? 1 : t * config.timeCompression
        guard t > 0, numFrames > 0, numFrames <= produced else {
            throw VAEError.badInput("DC-AE: \(t) latent frames decode to \(produced) frames, cannot keep \(numFrames)")
        }
        let x = try decode(z)
        return numFrames == x.shape[2] ? x : narrow(x, axis: 2, 0..<numFrames)
    }
}
