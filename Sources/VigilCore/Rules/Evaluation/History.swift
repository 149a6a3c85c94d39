/// What the windowed aggregates read from one kept event: its observation time and which aggregate
/// conditions held on it, computed once when the event is recorded. Plain values, no references, so
/// walking a window costs no reference counting.
public struct EventFacts: Equatable, Sendable {
    public let at: Timestamp
    /// Bit k: aggregate condition k of the rule set held on this event.
    let conditions: UInt64
}

/// A client's kept history as the rule set's aggregates see it: each event's facts, sorted by
/// observation time (ties in arrival order), and each aggregate number input (`stride` per event;
/// NaN when the event did not report it). Per-event cost of an aggregate is a walk over plain
/// values bounded by its window, however long the client's whole history.
public struct History: Sendable {
    public private(set) var facts: [EventFacts] = []
    /// `facts.count × stride` numbers, parallel to `facts`.
    private(set) var numbers: [Double] = []
    let stride: Int

    init(stride: Int) { self.stride = stride }

    /// The newest observation time kept.
    public var newest: Timestamp? { facts.last?.at }

    /// Inserts an event's facts at its place in observation order (after events observed at the same time).
    mutating func insert(_ event: EventFacts, numbers values: some Collection<Double>) {
        if let last = facts.last, last.at > event.at {
            let index = facts.firstIndex { $0.at > event.at } ?? facts.endIndex
            facts.insert(event, at: index)
            numbers.insert(contentsOf: Array(values), at: index * stride)
        } else {
            facts.append(event)
            numbers += values
        }
    }

    /// Forgets the events observed before `horizon`.
    public mutating func trim(before horizon: Timestamp) {
        guard let keep = facts.firstIndex(where: { $0.at >= horizon }), keep > 0 else { return }
        facts.removeFirst(keep)
        numbers.removeFirst(keep * stride)
    }

    /// How many events observed in (at − window, at] have the condition bit `mask`.
    func count(_ mask: UInt64, within window: TimeSpan, endingAt at: Timestamp) -> Int {
        let from = at.microseconds - window.microseconds
        var total = 0
        facts.withUnsafeBufferPointer { facts in
            var index = facts.count - 1
            while index >= 0 {
                let event = facts[index]
                if event.at.microseconds <= from { break }
                if event.at <= at, event.conditions & mask != 0 { total += 1 }
                index -= 1
            }
        }
        return total
    }

    /// Sum, count, minimum and maximum of number input `slot` over the events observed in
    /// (at − window, at] that reported it.
    func summary(_ slot: Int, within window: TimeSpan, endingAt at: Timestamp) -> NumberSummary {
        let from = at.microseconds - window.microseconds
        let until = at.microseconds
        var summary = NumberSummary()
        facts.withUnsafeBufferPointer { facts in
            numbers.withUnsafeBufferPointer { numbers in
                guard var index = facts.indices.last, let base = numbers.baseAddress else { return }
                var value = base + (index * stride + slot)
                while true {
                    let observed = facts[index].at.microseconds
                    if observed <= from { break }
                    if observed <= until, !value.pointee.isNaN { summary.add(value.pointee) }
                    if index == 0 { break }
                    index -= 1
                    value -= stride
                }
            }
        }
        return summary
    }

    /// Number input `slot` of the newest event observed no later than `at` that reported it.
    func last(_ slot: Int, before at: Timestamp) -> Double? {
        var index = facts.count - 1
        while index >= 0 {
            let value = numbers[index * stride + slot]
            if facts[index].at <= at, !value.isNaN { return value }
            index -= 1
        }
        return nil
    }

    /// The observation time of the newest event observed no later than `at` with the condition bit `mask`.
    func lastMatch(_ mask: UInt64, before at: Timestamp) -> Timestamp? {
        facts.last { $0.at <= at && $0.conditions & mask != 0 }?.at
    }

    /// The observation times of the events with the condition bit `mask` observed no later than `at`,
    /// oldest first.
    func matches(_ mask: UInt64, through at: Timestamp) -> [Timestamp] {
        facts.filter { $0.at <= at && $0.conditions & mask != 0 }.map(\.at)
    }
}

/// Sum, count, minimum and maximum of the numbers seen.
struct NumberSummary {
    var sum = 0.0
    var count = 0
    var minimum = Double.infinity
    var maximum = -Double.infinity

    @inline(__always)
    mutating func add(_ value: Double) {
        sum += value
        count += 1
        minimum = Swift.min(minimum, value)
        maximum = Swift.max(maximum, value)
    }
}

/// The inputs of a rule set's aggregates, collected while it compiles: the conditions `count` and
/// `since` test (and `absent:` matches), and the numbers `avg`, `min`, `max` and `last` read. Each
/// event's values are computed once (`RuleSet.record`), then read from `History` by every window.
final class AggregateInputs {
    static let maxConditions = 64
    var conditions: [Condition] = []
    var numbers: [NumberInput] = []

    /// The bit of a new condition input, or nil when the rule set already has `maxConditions`.
    func addCondition(_ condition: @escaping @Sendable (EvaluationContext) -> Bool) -> UInt64? {
        guard conditions.count < Self.maxConditions else { return nil }
        conditions.append(Condition(test: condition))
        return 1 << UInt64(conditions.count - 1)
    }

    /// The slot of a new number input.
    func addNumber(_ number: @escaping @Sendable (ObservedEvent) -> Double?) -> Int {
        numbers.append(NumberInput(read: number))
        return numbers.count - 1
    }
}
