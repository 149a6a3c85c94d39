import VigilCore

/// One reason a spool file, or one line of a batch, was refused.
/// In a `.why` sidecar: `{"error", "field"?, "line"?}`.
public struct Rejection: Sendable, Equatable, Encodable {
    /// The 1-based line of a `.jsonl` batch; nil for a whole file.
    public let line: Int?
    /// The field at fault, when one is.
    public let field: String?
    public let problem: String

    enum CodingKeys: String, CodingKey {
        case line, field
        case problem = "error"
    }

    public init(line: Int? = nil, field: String? = nil, problem: String) {
        self.line = line
        self.field = field
        self.problem = problem
    }

    public init(line: Int? = nil, _ error: CheckInError) {
        self.init(line: line, field: error.field, problem: error.problem)
    }

    /// One reason per problem of a refused check-in, and a last one counting those past the limit.
    public static func reasons(line: Int? = nil, _ errors: CheckInErrors) -> [Rejection] {
        var reasons = errors.errors.map { Rejection(line: line, $0) }
        if errors.omitted > 0 {
            reasons.append(
                Rejection(
                    line: line,
                    problem: "\(errors.omitted) more problems not listed (the first \(CheckInErrors.limit) are)"))
        }
        return reasons
    }

    /// "line 3: measures.mood: 12 is out of range 0–10".
    public var description: String {
        var text = line.map { "line \($0): " } ?? ""
        if let field { text += field + ": " }
        return text + problem
    }
}
