/// Facts about this build that both binaries print.
public enum BuildInfo {
    /// The version printed by `--version` and sent in the `Server` header.
    public static let version = "0.1.0"
}
