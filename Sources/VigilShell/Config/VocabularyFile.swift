import Foundation
import VigilCore

/// Loads `vocabulary.yaml` from a rules directory.
public enum VocabularyFile {
    public static let name = "vocabulary.yaml"

    public static func load(rulesDirectory: String) throws(SourceErrors) -> Vocabulary {
        let path = rulesDirectory + "/" + name
        return try parse(try VigilConfig.readText(path, what: "the vocabulary"), path: path)
    }

    /// Parses the vocabulary's text; throws every problem found.
    public static func parse(_ text: String, path: String) throws(SourceErrors) -> Vocabulary {
        let reader = YAMLReader(path: path, text: text)
        var lists: [Vocabulary.List: Set<String>] = [:]
        if let root = reader.root(known: Vocabulary.List.allCases.map(\.rawValue) + ["unscored"]) {
            for list in Vocabulary.List.allCases {
                let codes = root.strings(list.rawValue, "must be a list") ?? []
                for code in codes where !CheckInDecoder.isSnakeCase(code) {
                    root.report(list.rawValue, "code '\(code)' is not snake_case")
                }
                let unique = Set(codes)
                if unique.count != codes.count { root.report(list.rawValue, "a code is listed twice") }
                lists[list] = unique
            }
            // `unscored:` maps a code no rule reads to the reason (see `unexplainedCodes`).
            if let unscored = root.map("unscored", known: nil, "must map each code to the reason it is not scored") {
                for entry in unscored.entries {
                    _ = unscored.string(entry.name, "must be the reason the code is not scored")
                    if !lists.values.contains(where: { $0.contains(entry.name) }) {
                        unscored.report(entry.name, "'\(entry.name)' is not a code of signs, stressors or protective")
                    }
                }
            }
        }
        try reader.finish()
        return Vocabulary(
            signs: lists[.signs] ?? [], stressors: lists[.stressors] ?? [], protective: lists[.protective] ?? [])
    }

    /// What `vigil rules check --strict` refuses, located in vocabulary.yaml: a code that no rule
    /// reads and `unscored:` does not explain, and a code `unscored:` lists although a rule reads it.
    public static func unexplainedCodes(
        rulesDirectory: String, read: [Vocabulary.List: Set<String>]
    ) throws(SourceErrors) -> [SourceError] {
        let path = rulesDirectory + "/" + name
        let reader = YAMLReader(path: path, text: try VigilConfig.readText(path, what: "the vocabulary"))
        guard let root = reader.root(known: nil) else {
            try reader.finish()
            return []
        }
        let unscored = Set(root.map("unscored", known: nil)?.entries.map(\.name) ?? [])
        var errors: [SourceError] = []
        for list in Vocabulary.List.allCases {
            for item in root[list.rawValue]?.sequence ?? [] {
                guard let code = item.scalar?.string else { continue }
                let isRead = read[list, default: []].contains(code)
                if !isRead && !unscored.contains(code) {
                    errors.append(
                        reader.error(
                            "code '\(code)' is read by no rule: write a rule for it, or list it under unscored: "
                                + "with the reason", at: item, key: list.rawValue))
                } else if isRead && unscored.contains(code) {
                    errors.append(
                        reader.error(
                            "code '\(code)' is listed under unscored: but a rule reads it", at: item, key: list.rawValue
                        ))
                }
            }
        }
        return errors
    }
}
