/// An event shared by reference between a client's history and the contexts that read it, so that
/// walking a window retains one object per event instead of copying every field.
public final class ObservedEvent: Sendable {
    public let checkIn: CheckIn
    public init(_ checkIn: CheckIn) { self.checkIn = checkIn }
}

/// What a compiled expression is evaluated against: one event, and the same client's earlier events
/// (sorted by observation time) within the rule set's look-back.
public struct EvaluationContext: Sendable {
    let observed: ObservedEvent
    public let history: ArraySlice<ObservedEvent>

    public init(event: ObservedEvent, history: ArraySlice<ObservedEvent>) {
        self.observed = event
        self.history = history
    }

    /// The event, read in place.
    public var event: CheckIn {
        _read { yield observed.checkIn }
    }

    /// The context of an earlier event, for conditions inside aggregates (which cannot nest).
    func alone(_ other: ObservedEvent) -> EvaluationContext { EvaluationContext(event: other, history: []) }
}
