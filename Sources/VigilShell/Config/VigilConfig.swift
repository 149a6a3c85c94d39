import Foundation

/// The daemon's configuration (`/etc/vigil/vigil.yaml` by default).
///
/// Keys: `spool` (the spool directory), `state` (the directory holding the SQLite database),
/// `rules` (the rules directory, which holds `vocabulary.yaml`) and `notifier` (read by `vigil
/// notify`: see `NotifierConfig`). Relative paths resolve against the directory of the configuration file.
public struct VigilConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/vigil/vigil.yaml"
    public static let keys = ["spool", "state", "rules", "notifier"]
    /// The `origin` of the configuration built in (no file).
    public static let embeddedOrigin = "embedded default"

    public var spool: String
    public var state: String
    public var rules: String
    /// Where it came from: a file path, or "embedded default".
    public var origin: String

    public init(spool: String, state: String, rules: String, origin: String) {
        self.spool = spool
        self.state = state
        self.rules = rules
        self.origin = origin
    }

    /// The database file inside `state`.
    public var databasePath: String { state + "/vigil.sqlite" }

    /// The embedded default for development: `./var/spool`, `./var/state` and `./Rules` under `directory`.
    public static func embeddedDefault(directory: String) -> VigilConfig {
        VigilConfig(
            spool: directory + "/var/spool", state: directory + "/var/state", rules: directory + "/Rules",
            origin: embeddedOrigin)
    }

    /// Parses a configuration file's text; `path` locates relative paths and names the file in errors.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> VigilConfig {
        let mapping = try YAMLMapping(text: text, file: path)
        try mapping.requireKnownKeys(keys)
        let base = (absolute(path) as NSString).deletingLastPathComponent
        func resolved(_ key: String) throws(ConfigError) -> String {
            guard let value = try mapping.string(key) else {
                throw ConfigError(file: path, key: key, "required (a directory path)")
            }
            return value.hasPrefix("/") ? value : base + "/" + value
        }
        return VigilConfig(
            spool: try resolved("spool"), state: try resolved("state"), rules: try resolved("rules"), origin: path)
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(ConfigError) -> VigilConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, "cannot read the configuration: \(error.localizedDescription)")
        }
        return try parse(text, path: path)
    }

    /// The configuration a command uses: `--config` when given; otherwise `/etc/vigil/vigil.yaml`
    /// when it exists; otherwise the embedded default rooted at the current directory.
    public static func resolve(explicitPath: String?) throws(ConfigError) -> VigilConfig {
        if let explicitPath { return try load(path: explicitPath) }
        if FileManager.default.fileExists(atPath: defaultPath) { return try load(path: defaultPath) }
        return embeddedDefault(directory: FileManager.default.currentDirectoryPath)
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
