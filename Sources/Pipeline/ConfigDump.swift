// The resolved config as YAML in the same schema (every key spelled out), e.g. for
// `generate --print-config`; reading it back gives the same config.

import Foundation

extension GenerationConfig {
    public func yamlText() -> String {
        let out = ConfigCoding.yamlLines(self) + cache.yamlLines(list: { "[" + $0.joined(separator: ", ") + "]" }, num: ConfigCoding.number)
        return out.joined(separator: "\n") + "\n"
    }
}
