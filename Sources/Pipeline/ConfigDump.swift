// The resolved config as YAML in the same schema (every key spelled out), e.g. for
// `generate --print-config`; reading it back gives the same config.

import Foundation

extension GenerationConfig {
    public func yamlText() -> String {
        ConfigCoding.yamlLines(self).joined(separator: "\n") + "\n"
    }
}
