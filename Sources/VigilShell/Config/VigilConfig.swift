import Foundation
import VigilCore

/// The daemon's configuration (`/etc/vigil/vigil.yaml` by default).
///
/// Keys: `spool` (the spool directory), `state` (the directory holding the SQLite database),
/// `rules` (the rules directory, which holds `vocabulary.yaml`), `store` (optional: where the
/// store is, see `StoreLocation`), `notifier` (read by `vigil notify`: see `NotifierConfig`) and
/// `api` (read by `vigil api`: see `APIConfig`). Relative paths resolve against the directory of
/// the configuration file.
public struct VigilConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/vigil/vigil.yaml"
    public static let keys = ["spool", "state", "rules", "store", "notifier", "api"]
    /// The `origin` of the configuration built in (no file).
    public static let embeddedOrigin = "embedded default"

    public var spool: String
    public var state: String
    public var rules: String
    /// Where it came from: a file path, or "embedded default".
    public var origin: String
    /// Where the store is: the SQLite file in `state` (the default) or a PostgreSQL server.
    public var store: StoreLocation

    public init(spool: String, state: String, rules: String, origin: String, store: StoreLocation = .sqlite) {
        self.spool = spool
        self.state = state
        self.rules = rules
        self.origin = origin
        self.store = store
    }

    /// The SQLite database file inside `state` (`vigil store migrate` copies from it).
    public var databasePath: String { state + "/vigil.sqlite" }

    /// The SQLite database that `command` works on, for the openers that know SQLite only (every
    /// `vigil` command passes VigilPostgres' openers, which also open PostgreSQL); a configuration
    /// whose store is PostgreSQL is refused in plain words (exit 78), rather than reading or
    /// writing a local file nobody else sees.
    public func sqliteStore(for command: String) throws(StoreError) -> String {
        guard case .postgres(let url, _) = store else { return databasePath }
        throw StoreError(
            path: url,
            problem: "\(origin) sets store.backend: postgres, and \(command) opens SQLite only (see docs/scale-out.md)",
            exitStatus: .config)
    }

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
        var store = StoreLocation.sqlite
        if let root = reader.root(known: keys) {
            if let section = root.map("store", known: StoreLocation.keys) {
                store = StoreLocation.parse(section, base: base) ?? store
            }
            for key in ["spool", "state", "rules"] {
                guard root[key] != nil else {
                    reader.report(SourceError(file: path, key: key, "required (a directory path)"))
                    continue
                }
                if let value = root.string(key) { paths.append(value.hasPrefix("/") ? value : base + "/" + value) }
            }
        }
        try reader.finish()
        return VigilConfig(spool: paths[0], state: paths[1], rules: paths[2], origin: path, store: store)
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

/// Where the store is (`store:` in the configuration): SQLite in the state directory, the default,
/// or PostgreSQL (`backend: postgres`, `url: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=…]`,
/// `password_file: PATH`). The URL is checked when it is used (`PostgresTarget`), where a password
/// in it is refused.
public enum StoreLocation: Equatable, Sendable {
    case sqlite
    case postgres(url: String, passwordFile: String?)

    static let keys = ["backend", "url", "password_file"]

    static func parse(_ section: YAMLMap, base: String) -> StoreLocation? {
        switch section.string("backend", "must be sqlite or postgres") {
        case nil, "sqlite":
            for key in ["url", "password_file"] where section[key] != nil {
                section.report(key, "only with backend: postgres")
            }
            return .sqlite
        case "postgres":
            guard let url = section.string("url", "must be postgres://USER@HOST[:PORT]/DATABASE") else {
                if section["url"] == nil { section.report("url", "required with backend: postgres") }
                return nil
            }
            let file = section.string("password_file").map { $0.hasPrefix("/") ? $0 : base + "/" + $0 }
            return .postgres(url: url, passwordFile: file)
        case let other?:
            section.report("backend", "'\(other)' is not a store: sqlite or postgres")
            return nil
        }
    }
}
