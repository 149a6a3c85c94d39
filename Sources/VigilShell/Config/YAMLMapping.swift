import Yams

/// A YAML mapping read strictly: unknown keys are errors (Yams itself refuses duplicate keys), and every
/// error names its file, key and line.
struct YAMLMapping {
    let file: String
    let pairs: [(key: String, value: Node, line: Int)]

    /// Parses `text` and requires a mapping at the top (an empty document is an empty mapping).
    init(text: String, file: String) throws(ConfigError) {
        self.file = file
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(file: file, "not valid YAML: \(error)")
        } catch {
            throw ConfigError(file: file, "not valid YAML: \(error)")
        }
        guard let root else {
            pairs = []
            return
        }
        guard let mapping = root.mapping else {
            throw ConfigError(file: file, "the top level must be a mapping of keys")
        }
        var pairs: [(key: String, value: Node, line: Int)] = []
        for (key, value) in mapping {
            guard let name = key.string else {
                throw ConfigError(file: file, line: key.mark.map { $0.line }, "keys must be strings")
            }
            pairs.append((name, value, key.mark.map { $0.line } ?? 0))
        }
        self.pairs = pairs
    }

    /// Fails on the first key not in `known`, listing the known ones.
    func requireKnownKeys(_ known: [String]) throws(ConfigError) {
        for pair in pairs where !known.contains(pair.key) {
            throw ConfigError(
                file: file, key: pair.key, line: pair.line,
                "unknown key (known keys: \(known.joined(separator: ", ")))")
        }
    }

    /// The node at `key`, or nil when absent.
    func node(_ key: String) -> Node? { pairs.first { $0.key == key }?.value }

    /// The scalar string at `key`, or nil when absent.
    func string(_ key: String) throws(ConfigError) -> String? {
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        guard let scalar = pair.value.scalar, !scalar.string.isEmpty else {
            throw ConfigError(file: file, key: key, line: pair.line, "must be a non-empty string")
        }
        return scalar.string
    }

    /// The list of strings at `key`, or nil when absent.
    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        guard let sequence = pair.value.sequence else {
            throw ConfigError(file: file, key: key, line: pair.line, "must be a list")
        }
        var result: [String] = []
        for item in sequence {
            guard let scalar = item.scalar else {
                throw ConfigError(file: file, key: key, line: item.mark.map { $0.line }, "items must be strings")
            }
            result.append(scalar.string)
        }
        return result
    }
}
