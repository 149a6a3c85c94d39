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
        if let root = reader.root(known: Vocabulary.List.allCases.map(\.rawValue)) {
            for list in Vocabulary.List.allCases {
                let codes = root.strings(list.rawValue, "must be a list") ?? []
                for code in codes where !CheckInDecoder.isSnakeCase(code) {
                    root.report(list.rawValue, "code '\(code)' is not snake_case")
                }
                let unique = Set(codes)
                if unique.count != codes.count { root.report(list.rawValue, "a code is listed twice") }
                lists[list] = unique
            }
        }
        try reader.finish()
        return Vocabulary(
            signs: lists[.signs] ?? [], stressors: lists[.stressors] ?? [], protective: lists[.protective] ?? [])
    }
}
