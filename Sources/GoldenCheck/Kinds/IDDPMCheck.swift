// Golden checker for kind 'iddpm'.

enum IDDPMCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "iddpm")
    }
}
