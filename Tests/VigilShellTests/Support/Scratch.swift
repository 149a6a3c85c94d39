import Foundation
import Glibc

/// A private temporary directory for one test (mode 0700, as `mkdtemp` makes it), removed when
/// the test releases it.
final class Scratch {
    let path: String

    /// The repository checkout (for `Rules/`).
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    init() throws {
        var template = Array(
            (NSTemporaryDirectory() as NSString).appendingPathComponent("vigil-unit-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw ScratchError("mkdtemp failed (errno \(errno))") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Creates `name` (and any missing parent) with `mode`; returns its path.
    @discardableResult
    func directory(_ name: String, mode: mode_t = 0o700) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        guard chmod(full, mode) == 0 else { throw ScratchError("chmod \(full) failed") }
        return full
    }

    /// Writes `text` to `name` with `mode`; returns its path.
    @discardableResult
    func file(_ name: String, _ text: String = "", mode: mode_t = 0o600) throws -> String {
        let full = path + "/" + name
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        guard chmod(full, mode) == 0 else { throw ScratchError("chmod \(full) failed") }
        return full
    }

    /// The permission bits of `name`.
    func mode(_ name: String) -> mode_t {
        var info = stat()
        return lstat(path + "/" + name, &info) == 0 ? info.st_mode & 0o7777 : 0
    }
}

struct ScratchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
