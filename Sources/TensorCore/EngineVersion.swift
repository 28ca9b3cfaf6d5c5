// The engine's version: printed by `opensora --version`, written into benchmark JSON and run
// manifests, so a result can be traced to the build that made it. Bumped with each user-visible
// change (docs/architecture.md, "Versions").

public enum EngineVersion {
    public static let number = "0.11.0"
}
