// `opensora --version`: the engine's version and what this build runs on, for bug reports and
// for telling apart benchmark results from different machines.

import CCPUCheck
import Foundation
import TensorCore
import VideoIO

enum VersionText {
    static var text: String {
        #if arch(x86_64)
        let missing = String(cString: opensora_missing_cpu_features())
        let kernels = opensora_built_for_x86_64_v3() != 0 ? "x86-64-v3 (AVX2 + FMA)" : "baseline x86-64 (OPENSORA_PORTABLE=1)"
        let cpu = missing.isEmpty ? "x86-64-v3" : "lacks \(missing)"
        #else
        let kernels = "generic", cpu = "not x86-64"
        #endif
        return """
        opensora \(EngineVersion.number)
        kernels: \(kernels); CPU: \(cpu), int8 VNNI \(Int8GEMM.hasVNNI ? "yes" : "no"), \(ProcessInfo.processInfo.activeProcessorCount) cores
        BLAS: \(BLAS.configuration)
        video: \(MP4Writer.encoderDescription)
        """
    }
}
