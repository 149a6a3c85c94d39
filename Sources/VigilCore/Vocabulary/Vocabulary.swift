/// The codes a check-in may use in `signs`, `stressors` and `protective`, and the measures it may
/// report, each with its range and unit.
///
/// Shipped as `Rules/vocabulary.yaml`; the shell loads it, the core only checks against it.
public struct Vocabulary: Equatable, Sendable {
    /// The three code lists of a check-in.
    public enum List: String, CaseIterable, Sendable {
        case signs, stressors, protective
    }

    public let codes: [List: Set<String>]
    /// The declared measures, by name.
    public let measures: [String: MeasureDeclaration]

    public init(
        signs: Set<String>, stressors: Set<String>, protective: Set<String>,
        measures: [String: MeasureDeclaration] = [:]
    ) {
        codes = [.signs: signs, .stressors: stressors, .protective: protective]
        self.measures = measures
    }

    public func contains(_ code: String, in list: List) -> Bool { codes[list, default: []].contains(code) }

    /// The known code of `list` closest to `code` by edit distance, if any is reasonably close.
    public func suggestion(for code: String, in list: List) -> String? {
        EditDistance.nearest(to: code, among: codes[list, default: []])
    }

    /// The declared measure closest to `name` by edit distance, if any is reasonably close.
    public func measureSuggestion(for name: String) -> String? {
        EditDistance.nearest(to: name, among: measures.keys)
    }
}

/// A measure `vocabulary.yaml` declares: the values a check-in may report and what they count.
public struct MeasureDeclaration: Equatable, Sendable {
    public let range: ClosedRange<Double>
    /// What the number counts (`hours`, `score`), for people reading rules and check-ins.
    public let unit: String

    public init(range: ClosedRange<Double>, unit: String) {
        self.range = range
        self.unit = unit
    }
}

/// Edit distances for "did you mean" suggestions.
public enum EditDistance {
    /// The candidate closest to `name` (the first in sorted order among equals), if it is within
    /// max(3, half the length of `name`) edits.
    public static func nearest(to name: String, among candidates: some Sequence<String>) -> String? {
        var best: (candidate: String, distance: Int)?
        for candidate in candidates.sorted() {
            let distance = levenshtein(name, candidate)
            if let current = best, current.distance <= distance { continue }
            best = (candidate, distance)
        }
        guard let best, best.distance <= max(3, name.count / 2) else { return nil }
        return best.candidate
    }

    /// The Levenshtein distance between two strings, by Unicode scalars.
    public static func levenshtein(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
