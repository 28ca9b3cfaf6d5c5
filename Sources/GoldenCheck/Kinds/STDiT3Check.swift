// Golden checker for kind 'stdit3'.

enum STDiT3Check {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "stdit3")
    }
}
