// Golden checker for kind 'stdit2'.

enum STDiT2Check {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "stdit2")
    }
}
