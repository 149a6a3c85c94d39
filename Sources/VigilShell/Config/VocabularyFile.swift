import Foundation
import VigilCore

/// Loads `vocabulary.yaml` from a rules directory.
public enum VocabularyFile {
    public static let name = "vocabulary.yaml"

    public static func load(rulesDirectory: String) throws(ConfigError) -> Vocabulary {
        let path = rulesDirectory + "/" + name
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, "cannot read the vocabulary: \(error.localizedDescription)")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> Vocabulary {
        let mapping = try YAMLMapping(text: text, file: path)
        try mapping.requireKnownKeys(Vocabulary.List.allCases.map(\.rawValue))
        var lists: [Vocabulary.List: Set<String>] = [:]
        for list in Vocabulary.List.allCases {
            let codes = try mapping.strings(list.rawValue) ?? []
            for code in codes where !CheckInDecoder.isSnakeCase(code) {
                throw ConfigError(file: path, key: list.rawValue, "code '\(code)' is not snake_case")
            }
            let unique = Set(codes)
            guard unique.count == codes.count else {
                throw ConfigError(file: path, key: list.rawValue, "a code is listed twice")
            }
            lists[list] = unique
        }
        return Vocabulary(
            signs: lists[.signs] ?? [], stressors: lists[.stressors] ?? [], protective: lists[.protective] ?? [])
    }
}
