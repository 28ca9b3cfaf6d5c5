// Causal layers run a few frames at a time. A causal conv's output frames [t0, t1) read only its
// input frames [t0 - (kt - 1), t1), so a decoder level can normalise, upsample and convolve a
// chunk of frames at once and never hold a whole normalised or upsampled copy of a 2-4 GB
// activation (HunyuanVideo's last levels at 256 px and 65 frames). The same math as the
// whole-tensor layers: GroupNorm statistics are still taken over the whole tensor first.

import TensorCore

enum FrameStreaming {
    /// Input bytes per chunk. A tensor that fits in one chunk runs whole, as before.
    static let chunkBytes = 128 << 20

    /// Output frames per chunk for `frames` input frames of `frameBytes` each, or nil when they
    /// fit in one chunk.
    static func chunkFrames(frames t: Int, frameBytes: Int, chunkBytes: Int) -> Int? {
        let frames = max(1, chunkBytes / max(1, frameBytes))
        return frames < t ? frames : nil
    }

    /// The same for an input x: [N, C, T, H, W] scaled `spatialScale` times per frame.
    static func chunkFrames(_ x: Tensor, spatialScale: Int = 1, chunkBytes: Int) -> Int? {
        let t = x.shape[2]
        return chunkFrames(frames: t, frameBytes: x.count / max(t, 1) * spatialScale * MemoryLayout<Float>.size, chunkBytes: chunkBytes)
    }
}

/// Frames `range` of x: [N, C, T, H, W] (a copy).
func frames(_ x: Tensor, _ range: Range<Int>) -> Tensor { narrow(x, axis: 2, range) }

/// Writes y: [N, C, len, H, W] over frames t0 ..< t0 + len of x: [N, C, T, H, W].
func writeFrames(_ y: Tensor, into x: inout Tensor, at t0: Int) {
    let (n, c, t) = (x.shape[0], x.shape[1], x.shape[2])
    let len = y.shape[2], plane = x.shape[3] * x.shape[4]
    precondition(y.shape[0] == n && y.shape[1] == c && y.shape[3] * y.shape[4] == plane && t0 + len <= t,
                 "writeFrames: \(y.shape) at frame \(t0) of \(x.shape)")
    let src = y.pointer, dst = x.mutablePointer
    for nc in 0..<(n * c) { (dst + (nc * t + t0) * plane).update(from: src + nc * len * plane, count: len * plane) }
}

extension Conv {
    /// A causal conv (kt - 1 frames of padding in front, none behind, time stride 1) over
    /// `frames` output frames, `chunk` at a time. `source(range)` gives input frames `range`
    /// ([N, C, len, H, W]), asked in increasing order; `sink(y, t0)` takes output frames from t0.
    func streamCausal(frames: Int, chunk: Int, source: (Range<Int>) -> Tensor, sink: (Tensor, Int) -> Void) {
        let history = padding.front
        precondition(padding.back == 0 && stride.0 == 1 && weight.shape[2] == history + 1,
                     "streamCausal needs a causal conv, got \(weight.name) \(weight.shape) padding \(padding)")
        var t0 = 0
        while t0 < frames {
            let t1 = min(frames, t0 + chunk), first = max(0, t0 - history)
            var p = padding
            p.front = history - (t0 - first)           // the clip's own front padding, only where it reaches
            let y = convolution(source(first..<t1), weight: weight, bias: bias, stride: stride, padding: p,
                                paddingMode: replicate ? .replicate : .zeros)
            sink(y, t0)
            HeapTuning.returnFreedMemory()      // chunks differ in size: their freed blocks rarely fit the next
            t0 = t1
        }
    }
}

extension GroupNorm {
    /// The statistics over all of x as a per-channel map, to apply a piece at a time.
    func affine(_ x: Tensor) -> ChannelAffine { groupNormAffine(x, groups: groups, weight: weight, bias: bias, eps: eps) }
}

extension ResidualBlock {
    /// The block `chunk` output frames at a time (causal convs only). Whole tensors held: the
    /// input and one output-sized buffer, which holds conv1's output and is then overwritten by
    /// the block's output (the frames conv2 still needs are kept normalised beside it).
    /// x: [N, Cin, T, H, W] -> [N, Cout, T, H, W].
    func streamed(_ input: consuming Tensor, chunk: Int) -> Tensor {
        let x = input
        let t = x.shape[2]
        var h = Tensor(uninitialized: [x.shape[0], conv1.weight.shape[0], t, x.shape[3], x.shape[4]])
        let a1 = norm1.affine(x)
        conv1.streamCausal(frames: t, chunk: chunk, source: { r in
            var f = frames(x, r)
            a1.apply(&f, silu: true)
            return f
        }, sink: { y, t0 in writeFrames(y, into: &h, at: t0) })

        let a2 = norm2.affine(h)
        var previous: (range: Range<Int>, input: Tensor)?    // the last chunk's normalised input
        conv2.streamCausal(frames: t, chunk: chunk, source: { r in
            var fresh = frames(h, max(r.lowerBound, previous?.range.upperBound ?? 0)..<r.upperBound)
            a2.apply(&fresh, silu: true)
            var input = fresh
            if let (pr, pf) = previous, r.lowerBound < pr.upperBound {
                // Frames before this chunk were overwritten by the last chunk's output.
                input = concat([frames(pf, (r.lowerBound - pr.lowerBound)..<pr.count), fresh], axis: 2)
            }
            previous = (r, input)
            return input
        }, sink: { y, t0 in
            var out = y
            let own = frames(x, t0..<(t0 + y.shape[2]))
            out.add(shortcut.map { $0(own) } ?? own)
            writeFrames(out, into: &h, at: t0)
        })
        return h
    }
}

/// `upsampleCausal` then `conv`, `chunk` output frames at a time: the upsampled input (4x or 8x
/// x) is never whole. x: [B, C, T, H, W] -> [B, O, T', 2H, 2W].
func upsampleCausalThenConv(_ x: Tensor, time: Bool, conv: Conv, chunk: Int) -> Tensor {
    let upFrames = upsampledFrames(x.shape[2], time: time)
    var out = Tensor(uninitialized: [x.shape[0], conv.weight.shape[0], upFrames, 2 * x.shape[3], 2 * x.shape[4]])
    conv.streamCausal(frames: upFrames, chunk: chunk, source: { r in upsampleCausal(x, time: time, frames: r) },
                      sink: { y, t0 in writeFrames(y, into: &out, at: t0) })
    return out
}
