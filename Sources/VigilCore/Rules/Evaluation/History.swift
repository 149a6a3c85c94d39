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
    /// How many condition inputs the rule set has (the bits of `EventFacts.conditions` in use).
    let conditions: Int
    /// Hourly buckets, while the history is dense enough to need them (see `HistoryIndex`).
    private(set) var index: HistoryIndex?
    /// The client's recovery plans by observation time: the newest one observed before the
    /// look-back's start (a plan outlives the look-back) and every later one.
    public private(set) var plans: [(at: Timestamp, plan: RecoveryPlan)] = []

    init(stride: Int, conditions: Int) {
        self.stride = stride
        self.conditions = conditions
    }

    /// The newest observation time kept.
    public var newest: Timestamp? { facts.last?.at }

    /// Inserts an event's facts at its place in observation order (after events observed at the same time).
    mutating func insert(_ event: EventFacts, numbers values: some Collection<Double>) {
        if let last = facts.last, last.at > event.at {
            let position = facts.firstIndex { $0.at > event.at } ?? facts.endIndex
            facts.insert(event, at: position)
            numbers.insert(contentsOf: Array(values), at: position * stride)
            index = nil  // rebuilt below: a late event is rare
        } else {
            facts.append(event)
            numbers += values
            index?.append(event, numbers: numbers, at: facts.count - 1)
        }
        if index == nil, facts.count >= HistoryIndex.threshold {
            index = HistoryIndex(facts: facts, numbers: numbers, conditions: conditions, stride: stride)
        }
    }

    /// Keeps a plan observed at `at` (after any other observed at the same time).
    mutating func insert(plan: RecoveryPlan, at: Timestamp) {
        let position = plans.lastIndex { $0.at <= at }.map { $0 + 1 } ?? 0
        plans.insert((at, plan), at: position)
    }

    /// The plan in force at `at`: the newest observed at or before it.
    public func plan(at: Timestamp) -> (at: Timestamp, plan: RecoveryPlan)? {
        guard let last = plans.last else { return nil }
        if last.at <= at { return last }
        return plans.last { $0.at <= at }
    }

    /// Forgets the events observed before `horizon` (and the plans it no longer needs).
    public mutating func trim(before horizon: Timestamp) {
        if let inForce = plans.lastIndex(where: { $0.at < horizon }), inForce > 0 { plans.removeFirst(inForce) }
        guard let keep = facts.firstIndex(where: { $0.at >= horizon }), keep > 0 else { return }
        facts.removeFirst(keep)
        numbers.removeFirst(keep * stride)
        if facts.count < HistoryIndex.threshold {
            index = nil
        } else {
            index?.dropFirst(keep, facts: facts, numbers: numbers)
        }
    }

    /// How many events observed in (at − window, at] have the condition bit `mask`.
    func count(_ mask: UInt64, within window: TimeSpan, endingAt at: Timestamp) -> Int {
        let from = at.microseconds - window.microseconds
        if let index {
            var total = 0
            index.buckets(from: from, until: at.microseconds, facts: facts) { bucket, whole in
                if whole {
                    total += index.count(ofBit: mask.trailingZeroBitCount, in: bucket)
                } else {
                    total +=
                        facts[index.range(of: bucket)].filter {
                            $0.at.microseconds > from && $0.at <= at && $0.conditions & mask != 0
                        }.count
                }
            }
            return total
        }
        var total = 0
        facts.withUnsafeBufferPointer { facts in
            var index = facts.count - 1
            while index >= 0 {
                let event = facts[index]
                if event.at.microseconds <= from { break }
                // Without a branch on the bit, which is as unpredictable as what events report.
                total &+= event.at <= at && event.conditions & mask != 0 ? 1 : 0
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
        if let index {
            index.buckets(from: from, until: until, facts: facts) { bucket, whole in
                if whole {
                    summary.add(index.summary(ofSlot: slot, in: bucket))
                } else {
                    var part = NumberSummary()
                    for position in index.range(of: bucket) {
                        let observed = facts[position].at.microseconds
                        let value = numbers[position * stride + slot]
                        if observed > from, observed <= until, !value.isNaN { part.add(value) }
                    }
                    summary.add(part)
                }
            }
            return summary
        }
        facts.withUnsafeBufferPointer { facts in
            numbers.withUnsafeBufferPointer { numbers in
                guard var index = facts.indices.last, let base = numbers.baseAddress else { return }
                var value = base + (index * stride + slot)
                // In locals and without a branch on whether an event reported the number (which is
                // as unpredictable as the reporting): a skipped value adds 0 to the sum (exactly the
                // same sum) and ±infinity to the minimum and maximum.
                var sum = 0.0
                var count = 0
                var minimum = Double.infinity
                var maximum = -Double.infinity
                while true {
                    let observed = facts[index].at.microseconds
                    if observed <= from { break }
                    let number = value.pointee
                    let counted = observed <= until && !number.isNaN
                    sum += counted ? number : 0
                    count &+= counted ? 1 : 0
                    minimum = Swift.min(minimum, counted ? number : .infinity)
                    maximum = Swift.max(maximum, counted ? number : -.infinity)
                    if index == 0 { break }
                    index -= 1
                    value -= stride
                }
                summary = NumberSummary(sum: sum, count: count, minimum: minimum, maximum: maximum)
            }
        }
        return summary
    }

    /// Number input `slot` of the newest event observed no later than `at` that reported it.
    func last(_ slot: Int, before at: Timestamp) -> Double? {
        newest(
            at: at, skipping: { index, bucket in index.summary(ofSlot: slot, in: bucket).count == 0 },
            read: { position in
                let value = numbers[position * stride + slot]
                return value.isNaN ? nil : value
            })
    }

    /// `read` of the newest event observed no later than `at` for which it is not nil; with an
    /// index, buckets that `skipping` says hold no such event are passed over whole.
    func newest<T>(at: Timestamp, skipping: (HistoryIndex, Int) -> Bool, read: (Int) -> T?) -> T? {
        guard let index else {
            var position = facts.count - 1
            while position >= 0 {
                if facts[position].at <= at, let value = read(position) { return value }
                position -= 1
            }
            return nil
        }
        var found: T?
        var bucket = index.slots.count - 1
        while bucket >= 0, found == nil {
            if !skipping(index, bucket) {
                for position in index.range(of: bucket).reversed() where facts[position].at <= at {
                    if let value = read(position) {
                        found = value
                        break
                    }
                }
            }
            bucket -= 1
        }
        return found
    }

    /// The observation time of the newest event observed no later than `at` with the condition bit `mask`.
    func lastMatch(_ mask: UInt64, before at: Timestamp) -> Timestamp? {
        newest(
            at: at, skipping: { index, bucket in index.count(ofBit: mask.trailingZeroBitCount, in: bucket) == 0 },
            read: { facts[$0].conditions & mask != 0 ? facts[$0].at : nil })
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

    /// Adds another summary's numbers (as a whole: its sum is added once).
    mutating func add(_ other: NumberSummary) {
        sum += other.sum
        count += other.count
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
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
