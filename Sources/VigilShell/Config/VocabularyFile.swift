import Foundation
import VigilCore
import Yams

/// Loads `vocabulary.yaml` from a rules directory: the codes and the declared measures.
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
        var measures: [String: MeasureDeclaration] = [:]
        if let root = reader.root(known: Vocabulary.List.allCases.map(\.rawValue) + ["measures", "unscored"]) {
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
            let declarations = root.map("measures", known: nil, "measures must map names to {min, max, unit}")
            for entry in declarations?.entries ?? [] {
                if let declaration = measure(entry, reader: reader) { measures[entry.name] = declaration }
            }
        }
        try reader.finish()
        return Vocabulary(
            signs: lists[.signs] ?? [], stressors: lists[.stressors] ?? [], protective: lists[.protective] ?? [],
            measures: measures)
    }

    /// `NAME: {min: NUMBER, max: NUMBER, unit: TEXT}`; nil, with every problem reported, when it is not.
    static func measure(_ entry: YAMLMap.Entry, reader: YAMLReader) -> MeasureDeclaration? {
        let path = "measures." + entry.name
        guard CheckInDecoder.isSnakeCase(entry.name) else {
            reader.report("measure '\(entry.name)' is not snake_case", at: entry.key, key: path)
            return nil
        }
        let problem = "a measure is a mapping: {min: NUMBER, max: NUMBER, unit: TEXT}"
        guard let fields = reader.map(entry.value, path: path, known: ["min", "max", "unit"], what: problem) else {
            return nil
        }
        func bound(_ key: String) -> Double? {
            guard let value = fields[key] else {
                fields.report(key, "required (\(problem))")
                return nil
            }
            guard let number = value.float, number.isFinite else {
                fields.report(key, "must be a number")
                return nil
            }
            return number
        }
        let (min, max) = (bound("min"), bound("max"))
        let unit = fields.string("unit", "must say what the number counts (hours, score, …)")
        if fields["unit"] == nil { fields.report("unit", "required (\(problem))") }
        guard let min, let max, let unit else { return nil }
        guard min < max else {
            fields.report("max", "must be greater than min (\(min))")
            return nil
        }
        return MeasureDeclaration(range: min...max, unit: unit)
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
