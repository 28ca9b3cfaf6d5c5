// Golden checker for kind 'vae'.

enum VAECheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "vae")
    }
}
