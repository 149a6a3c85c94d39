import Foundation
import Glibc

/// A secret kept in a file of its own (a webhook's key, a database password), never inline in a
/// configuration or on a command line.
public enum SecretFile {
    /// The file's bytes with surrounding whitespace trimmed, or the problem in plain words: missing
    /// or unreadable, readable by other users, or empty.
    public static func read(_ path: String) -> Result<[UInt8], SecretFileProblem> {
        var info = stat()
        guard stat(path, &info) == 0, let data = FileManager.default.contents(atPath: path) else {
            return .failure(SecretFileProblem(description: "cannot read \(path)"))
        }
        guard info.st_mode & 0o007 == 0 else {
            return .failure(SecretFileProblem(description: "\(path) is readable by other users: chmod o-rwx it"))
        }
        let secret = Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard !secret.isEmpty else { return .failure(SecretFileProblem(description: "\(path) is empty")) }
        return .success(secret)
    }
}

/// Why a secret file cannot be used (its path included).
public struct SecretFileProblem: Error, CustomStringConvertible, Sendable {
    public let description: String
}
