// Golden checker for kind 'rflow'.

enum RectifiedFlowCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "rflow")
    }
}
