/// "Logged once per outage": what went wrong while a failure lasts, so that a failure repeated on
/// every retry is reported when it starts and when it ends, never on each attempt.
public struct OutageLatch<Problem: Sendable>: Sendable {
    /// The latest problem of the outage in progress, nil when there is none.
    public private(set) var problem: Problem?

    public init() {}

    /// Whether an outage is in progress.
    public var isOpen: Bool { problem != nil }

    /// Records a failure; true when it starts an outage (log it then).
    public mutating func fail(_ problem: Problem) -> Bool {
        defer { self.problem = problem }
        return self.problem == nil
    }

    /// Records a success; the last problem when this ends an outage (log the recovery then).
    public mutating func recover() -> Problem? {
        defer { problem = nil }
        return problem
    }
}
