import Crypto
import Foundation
import Glibc
import VigilCore
import VigilShell

/// What a token may do: hand over check-ins, read the team's views, act on tasks.
public enum Scope: String, CaseIterable, Codable, Sendable {
    case submit, read, act
}

/// The API's bearer tokens, one per person or system, kept in a file (`api.tokens_file`) as their
/// SHA-256 only: the token itself is printed once, by `vigil api token add`, and never stored. A
/// token is 32 random bytes, so a plain hash cannot be reversed by guessing.
public struct TokenFile: Sendable {
    /// One token as stored.
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var scopes: [Scope]
        /// Hex SHA-256 of the token.
        public var sha256: String
        public var created: String
    }

    struct Contents: Codable {
        var version = 1
        var tokens: [Entry]
    }

    public let path: String
    public private(set) var entries: [Entry]

    /// The prefix of every token, so one pasted in the wrong place is recognizable.
    static let prefix = "vigil_"

    /// Reads the file at `path`; a missing file has no tokens.
    public init(path: String) throws(TokenFileError) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            guard access(path, F_OK) != 0 else { throw TokenFileError("\(path): cannot be read") }
            entries = []
            return
        }
        do {
            entries = try JSONDecoder().decode(Contents.self, from: data).tokens
        } catch {
            throw TokenFileError("\(path): not a token file: \(error)")
        }
    }

    /// Adds a token named `name` with `scopes`; returns the token (shown once).
    public mutating func add(name: String, scopes: [Scope], at now: Timestamp) throws(TokenFileError) -> String {
        guard CheckInDecoder.isActor(name), !name.hasPrefix("link:") else {
            throw TokenFileError("a token's name must be 1–64 of A-Z a-z 0-9 . _ : @ - (and not start with link:)")
        }
        guard !entries.contains(where: { $0.name == name }) else {
            throw TokenFileError("a token named \(name) exists: revoke it first")
        }
        guard !scopes.isEmpty else { throw TokenFileError("a token needs at least one scope (submit, read, act)") }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token =
            Self.prefix
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        entries.append(
            Entry(name: name, scopes: scopes, sha256: Self.hash(token), created: RFC3339.format(now)))
        try save()
        return token
    }

    /// Removes the token named `name`.
    public mutating func revoke(name: String) throws(TokenFileError) {
        guard entries.contains(where: { $0.name == name }) else { throw TokenFileError("no token named \(name)") }
        entries.removeAll { $0.name == name }
        try save()
    }

    /// The entry a presented token belongs to, if any.
    public func entry(for token: String) -> Entry? {
        guard token.hasPrefix(Self.prefix), token.utf8.count < 256 else { return nil }
        let hash = Self.hash(token)
        return entries.first { $0.sha256 == hash }
    }

    static func hash(_ token: String) -> String { sha256Hex(Array(token.utf8)) }

    /// Writes the file atomically (fsync, rename), readable by its owner and group only.
    func save() throws(TokenFileError) {
        let bytes = Array(JSONOutput.data(Contents(tokens: entries)))
        let temporary = path + ".new"
        unlink(temporary)
        do {
            try FileWriting.writeSynced(bytes, to: temporary, mode: 0o640)
        } catch {
            throw TokenFileError("cannot write \(temporary): \(error)")
        }
        // The API runs as the vigil user: a new file goes to the vigil group (where there is one);
        // a rewritten one keeps its owner and group.
        var existing = stat()
        if stat(path, &existing) == 0 {
            _ = chown(temporary, existing.st_uid, existing.st_gid)
        } else if let group = getgrnam("vigil") {
            _ = chown(temporary, getuid(), group.pointee.gr_gid)
        }
        guard rename(temporary, path) == 0 else {
            let problem = String(cString: strerror(errno))
            unlink(temporary)
            throw TokenFileError("cannot replace \(path): \(problem)")
        }
    }
}

/// A token file that cannot be read or written, or a request it refuses.
public struct TokenFileError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let description: String
    public var exitStatus: ExitStatus { .dataError }
    init(_ description: String) { self.description = description }
}
