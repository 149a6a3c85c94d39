/// The codes a check-in may use in `signs`, `stressors` and `protective`.
///
/// Shipped as `Rules/vocabulary.yaml`; the shell loads it, the core only checks against it.
public struct Vocabulary: Equatable, Sendable {
    /// The three code lists of a check-in.
    public enum List: String, CaseIterable, Sendable {
        case signs, stressors, protective
    }

    public let codes: [List: Set<String>]

    public init(signs: Set<String>, stressors: Set<String>, protective: Set<String>) {
        codes = [.signs: signs, .stressors: stressors, .protective: protective]
    }

    public func contains(_ code: String, in list: List) -> Bool { codes[list, default: []].contains(code) }

    /// The known code of `list` closest to `code` by edit distance, if any is reasonably close.
    public func suggestion(for code: String, in list: List) -> String? {
        let candidates = codes[list, default: []].sorted()
        var best: (code: String, distance: Int)?
        for candidate in candidates {
            let distance = EditDistance.levenshtein(code, candidate)
            if let current = best, current.distance <= distance { continue }
            best = (candidate, distance)
        }
        guard let best, best.distance <= max(3, code.count / 2) else { return nil }
        return best.code
    }
}

/// Edit distances for "did you mean" suggestions.
public enum EditDistance {
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
