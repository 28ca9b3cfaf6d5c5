// Golden checker for kind 't5_encoder'.

enum T5EncoderCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "t5_encoder")
    }
}
