import VigilCore
import Yams

/// One YAML file read strictly, the one way Vigil reads YAML (configuration, notifier, vocabulary,
/// policy, rule and rule test files): every unknown key, wrong type or bad value is recorded as a
/// `SourceError` with the file, line, column, key path and the offending line, reading goes on, and
/// `finish()` throws them all. Yams itself refuses duplicate keys.
final class YAMLReader {
    let path: String
    private let lines: [Substring]
    private(set) var errors: [SourceError] = []

    private let text: String

    init(path: String, text: String) {
        self.path = path
        self.text = text
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The top-level mapping, its unknown keys reported (`known` nil: any key). Nil, with the error
    /// recorded, when the text is not YAML or not a mapping; an empty document is an empty mapping.
    func root(known: [String]?) -> YAMLMap? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            errors.append(SourceError(file: path, line: 1, column: 1, "not valid YAML: \(error)"))
            return nil
        }
        let top = root ?? Node.mapping(Node.Mapping([]))
        guard top.mapping != nil else {
            var message = "the top level must be a mapping of keys"
            if let known { message += " (\(known.joined(separator: ", ")))" }
            report(message, at: top, key: nil)
            return nil
        }
        return map(top, path: "", known: known)
    }

    /// `node` as a mapping whose key path is `path`, its unknown keys reported; nil, with the error
    /// recorded, when it is not a mapping.
    func map(_ node: Node, path: String, known: [String]?, what: String = "must be a mapping") -> YAMLMap? {
        guard let mapping = node.mapping else {
            report(what, at: node, key: path.isEmpty ? nil : path)
            return nil
        }
        var entries: [YAMLMap.Entry] = []
        for (key, value) in mapping {
            let name = key.string ?? "?"
            let keyPath = path.isEmpty ? name : path + "." + name
            guard key.scalar != nil else {
                report("keys must be strings", at: key, key: path.isEmpty ? nil : path)
                continue
            }
            if let known, !known.contains(name) {
                report("unknown key (known keys: \(known.joined(separator: ", ")))", at: key, key: keyPath)
                continue
            }
            entries.append(YAMLMap.Entry(name: name, key: key, value: value))
        }
        return YAMLMap(reader: self, node: node, path: path, entries: entries)
    }

    /// The error `message` at `node`'s line and column, about `key` when given.
    func error(_ message: String, at node: Node?, key: String? = nil) -> SourceError {
        let line = node?.mark?.line ?? 1
        return SourceError(
            file: path, line: line, column: node?.mark?.column ?? 1, key: key, message, sourceLine: sourceLine(line))
    }

    /// Records the error `message` at `node`.
    func report(_ message: String, at node: Node?, key: String? = nil) {
        errors.append(error(message, at: node, key: key))
    }

    /// Records `error` (found by a caller: a rule's, a test's).
    func report(_ error: SourceError) { errors.append(error) }

    /// The text of line `line` (1-based), for a caret display.
    func sourceLine(_ line: Int) -> String? { line >= 1 && line <= lines.count ? String(lines[line - 1]) : nil }

    /// Throws every error recorded, in file order.
    func finish() throws(SourceErrors) {
        guard !errors.isEmpty else { return }
        throw SourceErrors(errors: errors.sorted { ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0) })
    }
}

/// A mapping of a `YAMLReader`'s file, its unknown keys already reported. Each typed accessor returns
/// nil when the key is absent, and also (recording the error, at the value with its key path) when
/// the value has the wrong type.
struct YAMLMap {
    struct Entry {
        let name: String
        let key: Node
        let value: Node
    }

    let reader: YAMLReader
    let node: Node
    /// This mapping's key path ("" at the top).
    let path: String
    let entries: [Entry]

    /// The node at `key`, unchecked.
    subscript(key: String) -> Node? { entries.first { $0.name == key }?.value }

    /// The key path of `key` in this mapping.
    func keyPath(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The error `message` about `key`, at its value (or at this mapping when the key is absent).
    func error(_ key: String, _ message: String) -> SourceError {
        reader.error(message, at: self[key] ?? node, key: keyPath(key))
    }

    /// Records the error `message` about `key`.
    func report(_ key: String, _ message: String) { reader.report(error(key, message)) }

    /// A non-empty scalar text.
    func string(_ key: String, _ problem: String = "must be a non-empty string") -> String? {
        guard let value = self[key] else { return nil }
        guard let text = value.scalar?.string, !text.isEmpty else {
            report(key, problem)
            return nil
        }
        return text
    }

    /// A list of scalar texts.
    func strings(_ key: String, _ problem: String = "must be a list of strings") -> [String]? {
        guard let value = self[key] else { return nil }
        guard let items = value.sequence, items.allSatisfy({ $0.scalar != nil }) else {
            report(key, problem)
            return nil
        }
        return items.compactMap(\.scalar?.string)
    }

    /// A mapping, its unknown keys reported.
    func map(_ key: String, known: [String]?, _ problem: String = "must be a mapping") -> YAMLMap? {
        guard let value = self[key] else { return nil }
        return reader.map(value, path: keyPath(key), known: known, what: problem)
    }

    /// A list, each item with its key path (`tests[0]`).
    func list(_ key: String, _ problem: String = "must be a list") -> [(path: String, node: Node)]? {
        guard let value = self[key] else { return nil }
        guard let items = value.sequence else {
            report(key, problem)
            return nil
        }
        return items.enumerated().map { ("\(keyPath(key))[\($0.offset)]", $0.element) }
    }
}
