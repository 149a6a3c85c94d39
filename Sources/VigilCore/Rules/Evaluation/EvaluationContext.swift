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
    /// Nil in the contexts of earlier events inside an aggregate (aggregates do not nest), which
    /// saves a reference-count round trip per event in every window walked.
    let window: ArraySlice<ObservedEvent>?

    public init(event: ObservedEvent, history: ArraySlice<ObservedEvent>) {
        self.observed = event
        self.window = history
    }

    /// The context of an earlier event, for conditions inside aggregates (which cannot nest).
    init(alone event: ObservedEvent) {
        self.observed = event
        self.window = nil
    }

    /// The client's earlier events, sorted by observation time.
    public var history: ArraySlice<ObservedEvent> { window ?? [] }

    /// The event, read in place.
    public var event: CheckIn {
        _read { yield observed.checkIn }
    }
}
