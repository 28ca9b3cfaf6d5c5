// Golden checker for kind 'ddim'.

enum DDIMCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "ddim")
    }
}
