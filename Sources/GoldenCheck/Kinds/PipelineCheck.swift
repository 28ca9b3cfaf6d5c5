// Golden checker for kind 'pipeline_e2e'.

enum PipelineCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "pipeline_e2e")
    }
}
