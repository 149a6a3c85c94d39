/// What a compiled expression is evaluated against: one event, and the same client's earlier events
/// (oldest first) within the rule set's look-back window.
public struct EvaluationContext: Sendable {
    public let event: CheckIn
    public let history: ArraySlice<CheckIn>

    public init(event: CheckIn, history: ArraySlice<CheckIn>) {
        self.event = event
        self.history = history
    }

    /// The context of an earlier event, for conditions inside aggregates (which cannot nest).
    func alone(_ other: CheckIn) -> EvaluationContext { EvaluationContext(event: other, history: []) }
}
