import Foundation
import VigilCore

/// The daemon's configuration (`/etc/vigil/vigil.yaml` by default).
///
/// Keys: `spool` (the spool directory), `state` (the directory holding the SQLite database),
/// `rules` (the rules directory, which holds `vocabulary.yaml`), `notifier` (read by `vigil
/// notify`: see `NotifierConfig`) and `api` (read by `vigil api`: see `APIConfig`). Relative paths resolve against the directory of the configuration file.
public struct VigilConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/vigil/vigil.yaml"
    public static let keys = ["spool", "state", "rules", "notifier", "api"]
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
    /// Throws every problem found.
    public static func parse(_ text: String, path: String) throws(SourceErrors) -> VigilConfig {
        let reader = YAMLReader(path: path, text: text)
        let base = (absolute(path) as NSString).deletingLastPathComponent
        var paths: [String] = []
        if let root = reader.root(known: keys) {
            for key in ["spool", "state", "rules"] {
                guard root[key] != nil else {
                    reader.report(SourceError(file: path, key: key, "required (a directory path)"))
                    continue
                }
                if let value = root.string(key) { paths.append(value.hasPrefix("/") ? value : base + "/" + value) }
            }
        }
        try reader.finish()
        return VigilConfig(spool: paths[0], state: paths[1], rules: paths[2], origin: path)
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(SourceErrors) -> VigilConfig {
        try parse(try readText(path, what: "the configuration"), path: path)
    }

    /// The UTF-8 text of the file at `path`; `what` names it in the error.
    static func readText(_ path: String, what: String) throws(SourceErrors) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SourceErrors(errors: [
                SourceError(file: path, "cannot read \(what): \(error.localizedDescription)")
            ])
        }
    }

    /// The configuration a command uses: `--config` when given; otherwise `/etc/vigil/vigil.yaml`
    /// when it exists; otherwise the embedded default rooted at the current directory.
    public static func resolve(explicitPath: String?) throws(SourceErrors) -> VigilConfig {
        if let explicitPath { return try load(path: explicitPath) }
        if FileManager.default.fileExists(atPath: defaultPath) { return try load(path: defaultPath) }
        return embeddedDefault(directory: FileManager.default.currentDirectoryPath)
    }

    /// When `--config` names no file: what to tell the person, in plain words (the caller exits 78).
    public static func missing(explicitPath: String?) -> String? {
        var info = stat()
        guard let explicitPath, stat(explicitPath, &info) != 0, errno == ENOENT || errno == ENOTDIR else { return nil }
        return "no configuration file at \(explicitPath) (create it, or pass --config PATH)"
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
