/// Why a check-in was refused: the field at fault (a dotted path, `nil` for the whole input) and the problem.
///
/// Messages never quote free text (`note`) or a malformed client id, which might be a real name.
public struct CheckInError: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String?
    public let problem: String

    public init(field: String?, _ problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String {
        guard let field else { return problem }
        return "\(field): \(problem)"
    }
}

/// Every problem of one refused check-in, in the order the decoder met them: at most `limit` are
/// kept, the rest only counted in `omitted`.
public struct CheckInErrors: Error, Equatable, Sendable, CustomStringConvertible {
    /// The most problems kept for one check-in.
    public static let limit = 20

    public private(set) var errors: [CheckInError] = []
    /// How many problems were found past `limit`.
    public private(set) var omitted = 0

    public init() {}

    public init(_ error: CheckInError) { errors = [error] }

    public var isEmpty: Bool { errors.isEmpty }

    /// How many problems were found so far, kept or not.
    public var count: Int { errors.count + omitted }

    /// Records `error`, or counts it once `limit` are kept.
    public mutating func append(_ error: CheckInError) {
        if errors.count < Self.limit { errors.append(error) } else { omitted += 1 }
    }

    /// What `body` returns, or nil with its error recorded.
    mutating func check<T>(_ body: () throws(CheckInError) -> T) -> T? {
        do {
            return try body()
        } catch {
            append(error)
            return nil
        }
    }

    /// The problems, separated by "; ".
    public var description: String {
        var text = errors.map(\.description).joined(separator: "; ")
        if omitted > 0 { text += "; and \(omitted) more" }
        return text
    }
}
