// Golden checker for kind 'stdit'.

enum STDiTCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "stdit")
    }
}
