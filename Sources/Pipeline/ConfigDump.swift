// The resolved config as YAML in the same schema (every key spelled out), e.g. for
// `generate --print-config`; reading it back gives the same config.

import Foundation

extension GenerationConfig {
    public func yamlText() -> String {
        // Step caching is Open-Sora 1.x's (STDiT); an Open-Sora 2.0 config has no cache section.
        let cacheLines = denoiser.type.isOpenSora2 ? [] : cache.yamlLines(list: { "[" + $0.joined(separator: ", ") + "]" }, num: ConfigCoding.number)
        let out = ConfigCoding.yamlLines(self) + cacheLines
        return out.joined(separator: "\n") + "\n"
    }
}
