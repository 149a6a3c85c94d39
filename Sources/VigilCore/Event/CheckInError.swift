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
