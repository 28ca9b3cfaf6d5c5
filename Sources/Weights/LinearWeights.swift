// A Linear's weight as a model asks for it: float (memory-mapped, maybe bf16) or int8. One place
// decides, for every model with `--quantize int8` (docs/quantization.md): an I8 tensor in the
// checkpoint (`opensora weights quantize`) is read with its `<name>_scale`, whatever the option
// says; a float tensor is quantised here when the caller asks for int8.

import TensorCore

extension WeightStore {
    /// `name` as a Linear weight [out, in]: the tensor as stored, and its int8 form (nil = float32).
    /// Errors name the store and the tensor, before any compute.
    public func linearWeight(_ name: String, out outF: Int, in inF: Int,
                             quantization: Quantization) throws -> (weight: WeightTensor, int8: Int8Weight?) {
        guard let info = info(name), info.dtype == .i8 else {
            let w = try weight(name, shape: [outF, inF])
            return (w, quantization == .int8 ? Int8Weight(quantizing: w) : nil)
        }
        let src = sourceDescription
        guard info.shape == [outF, inF] else { throw WeightsError.shapeMismatch(name: name, source: src, expected: [outF, inF], found: info.shape) }
        let scaleName = name + Int8Weight.scaleSuffix
        guard let s = self.info(scaleName) else { throw WeightsError.missingTensor(name: scaleName, source: src) }
        guard s.shape == [outF] else { throw WeightsError.shapeMismatch(name: scaleName, source: src, expected: [outF], found: s.shape) }
        guard s.dtype == .f32 else { throw WeightsError.dtypeMismatch(name: scaleName, source: src, expected: "F32", found: s.dtype.rawValue) }
        let w = try weight(name)
        do { return (w, try Int8Weight(values: w, scales: try weight(scaleName))) }
        catch let e as QuantizationError { throw WeightsError.other("\(src): \(e.description)") }
    }
}

/// What an int8 checkpoint (`opensora weights quantize`) stores as I8: the same linears
/// `--quantize int8` runs int8.
public enum Int8Checkpoint {
    /// Block linears: 2-D weights under `blocks.N.`, `spatial_blocks.N.` or `temporal_blocks.N.`
    /// (STDiT), `double_blocks.N.` or `single_blocks.N.` (MMDiT) except the MMDiT's adaLN
    /// modulation (`img_mod.lin`, `txt_mod.lin`, `modulation.lin`), which stays float.
    public static func isBlockLinear(_ name: String, shape: [Int]) -> Bool {
        guard shape.count == 2, name.hasSuffix(".weight") else { return false }
        let parts = name.split(separator: ".")
        guard parts.count >= 3, ["blocks", "spatial_blocks", "temporal_blocks", "double_blocks", "single_blocks"].contains(String(parts[0])) else { return false }
        return Int(parts[1]) != nil && !name.hasSuffix("mod.lin.weight") && !name.hasSuffix("modulation.lin.weight")
    }

    /// Bytes of data in the int8 file written from tensors of these names and shapes: I8 block
    /// linears with F32 scales, every other tensor BF16.
    public static func fileBytes(_ tensors: [(String, [Int])]) -> Int {
        tensors.reduce(0) { sum, t in
            let n = t.1.reduce(1, *)
            return sum + (isBlockLinear(t.0, shape: t.1) ? n + 4 * t.1[0] : 2 * n)
        }
    }
}
