// Golden checker for kind 'tokenizer'.

enum TokenizerCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        throw GoldenError.notImplemented(kind: "tokenizer")
    }
}
