/// An event shared by reference between the contexts that read it, so that evaluating many rules
/// on it copies no fields.
public final class ObservedEvent: Sendable {
    public let checkIn: CheckIn
    public init(_ checkIn: CheckIn) { self.checkIn = checkIn }
}

/// What a compiled expression is evaluated against: one event, and the facts of the same client's
/// earlier events within the rule set's look-back.
public struct EvaluationContext: Sendable {
    let observed: ObservedEvent
    /// Nil in the context of an event alone, where an aggregate's input is computed (aggregates
    /// cannot nest, so nothing there reads a history).
    let history: History?

    public init(event: ObservedEvent, history: History) {
        self.observed = event
        self.history = history
    }

    /// The context of an event alone, to compute an aggregate input or test an `absent:` match.
    init(alone event: ObservedEvent) {
        self.observed = event
        self.history = nil
    }

    /// The event, read in place.
    public var event: CheckIn {
        _read { yield observed.checkIn }
    }
}
