// Golden checker for kind 'torch_randn'.

enum TorchRandnCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "torch_randn")
    }
}
