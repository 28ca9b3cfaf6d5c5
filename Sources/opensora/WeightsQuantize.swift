// `opensora weights quantize IN OUT`: a denoiser checkpoint with its blocks' linear weights as
// int8 (docs/quantization.md). Each 2-D `<blocks>.<i>.<...>.weight` becomes I8 [out, in] plus
// F32 [out] scales named `<...>.weight_scale` (symmetric per output channel, the same
// quantisation `--quantize int8` applies at load); every other floating-point tensor is written
// as bf16, integer tensors unchanged. The file loads directly: its int8 linears run int8.

import ArgumentParser
import Foundation
import TensorCore
import Weights

extension WeightsCommand {
    struct Quantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a denoiser checkpoint (STDiT3, STDiT2, STDiT) with its blocks' linear weights as int8 + float32 per-channel scales.",
            discussion: "About half the size of the bf16 file. `generate` and `bench` accept the result in place of the original; its int8 linears always run int8 (docs/quantization.md).")
        @Argument(help: "Input checkpoint: file, folder, *.index.json or cached Hugging Face repo id.")
        var input: String
        @Argument(help: "Output .safetensors file (written atomically).")
        var output: String
        @Option(help: "Quantisation: int8 (the only one).")
        var quantize: String = "int8"
        @Flag(help: "Replace an existing output file (never the input itself).")
        var overwrite = false

        /// Block linears: 2-D weights under `blocks.N.`, `spatial_blocks.N.` or `temporal_blocks.N.`.
        static func isBlockLinear(_ name: String, shape: [Int]) -> Bool {
            guard shape.count == 2, name.hasSuffix(".weight") else { return false }
            let parts = name.split(separator: ".")
            guard parts.count >= 3, ["blocks", "spatial_blocks", "temporal_blocks"].contains(String(parts[0])) else { return false }
            return Int(parts[1]) != nil
        }

        func run() throws {
            try runReportingErrors {
                guard try Quantization(option: quantize) == .int8 else { throw CLIError("--quantize none writes nothing new; use `opensora weights convert`") }
                try FileChecks.checkOutput(output, inputs: checkpointFiles(input), overwrite: overwrite)
                let store = try Checkpoint.open(input)
                var items: [SafetensorsWriter.Item] = []
                var total = 0, quantized = 0
                /// The scales of the weight just written, handed to the item after it.
                final class Pending { var scales: [Float] = [] }
                let pending = Pending()
                for name in store.names {
                    guard let info = store.info(name) else { continue }
                    if info.dtype.isFloatingPoint && Self.isBlockLinear(name, shape: info.shape) {
                        let n = info.shape[0]
                        items.append(SafetensorsWriter.Item(name: name, dtype: .i8, shape: info.shape) {
                            let q = Int8Weight(quantizing: try store.weight(name))
                            pending.scales = q.scales
                            return Data(bytes: q.values, count: q.outFeatures * q.inFeatures)
                        })
                        items.append(SafetensorsWriter.Item(name: name + Int8Weight.scaleSuffix, dtype: .f32, shape: [n]) {
                            pending.scales.withUnsafeBufferPointer { Data(buffer: $0) }
                        })
                        total += info.shape.reduce(1, *) + 4 * n
                        quantized += 1
                    } else {
                        let outType = info.dtype.isFloatingPoint ? DType.bf16 : info.dtype
                        total += info.shape.reduce(1, *) * outType.byteSize
                        items.append(SafetensorsWriter.Item(name: name, dtype: outType, shape: info.shape) {
                            try Convert.encode(store.weight(name), as: outType)
                        })
                    }
                }
                guard quantized > 0 else { throw CLIError("\(input): no block linear weights (blocks.N.*.weight, spatial_blocks.N.*, temporal_blocks.N.*) to quantise") }
                InterruptHandler.install()
                try SafetensorsWriter().write(items, to: output, metadata: ["format": "pt", "quantization": "int8 per-output-channel symmetric; scales in <name>_scale"])
                print("wrote \(output): \(quantized) int8 weights of \(items.count - quantized) tensors, \(total) bytes of data")
            }
        }
    }
}
