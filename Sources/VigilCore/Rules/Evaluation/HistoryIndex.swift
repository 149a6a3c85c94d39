/// Hourly buckets over a dense client's kept history, so that a window aggregate reads whole
/// buckets and walks only the two at its edges: the cost per event stays bounded by the window's
/// hours, not its events (one client's 40,000 check-ins in five days walked every one of them for
/// every event). `History` keeps one only while it holds at least `threshold` events; below that a
/// walk is cheaper than the bookkeeping and costs no memory.
///
/// A bucket's figures are computed from its events in time order, whether built at once or
/// extended by appends, so the index holds the same values for the same events however they came.
struct HistoryIndex: Sendable {
    static let width: Int64 = 3_600_000_000
    static let threshold = 512

    let conditions: Int
    let stride: Int
    /// Per bucket, in time order: its hour, its first fact's index and its number of facts.
    private(set) var slots: [Int64] = []
    private(set) var firsts: [Int] = []
    private(set) var counts: [Int] = []
    /// Per bucket: how many of its facts have each condition (`conditions` each).
    private(set) var conditionCounts: [Int32] = []
    /// Per bucket: each number input's summary (`stride` each).
    private(set) var summaries: [NumberSummary] = []

    init(facts: [EventFacts], numbers: [Double], conditions: Int, stride: Int) {
        self.conditions = conditions
        self.stride = stride
        for index in facts.indices { append(facts[index], numbers: numbers, at: index) }
    }

    static func slot(_ at: Timestamp) -> Int64 {
        at.microseconds >= 0 ? at.microseconds / width : (at.microseconds - width + 1) / width
    }

    /// Adds the fact at `index`, the newest of the history.
    mutating func append(_ fact: EventFacts, numbers: [Double], at index: Int) {
        let slot = Self.slot(fact.at)
        if slots.last != slot {
            slots.append(slot)
            firsts.append(index)
            counts.append(0)
            conditionCounts += repeatElement(0, count: conditions)
            summaries += repeatElement(NumberSummary(), count: stride)
        }
        let bucket = slots.count - 1
        counts[bucket] += 1
        for bit in 0..<conditions where fact.conditions & (1 << UInt64(bit)) != 0 {
            conditionCounts[bucket * conditions + bit] += 1
        }
        for slotIndex in 0..<stride {
            let value = numbers[index * stride + slotIndex]
            if !value.isNaN { summaries[bucket * stride + slotIndex].add(value) }
        }
    }

    /// After the first `removed` facts were dropped: drops their buckets, recomputes the one they
    /// shared with kept facts, and renumbers the rest.
    mutating func dropFirst(_ removed: Int, facts: [EventFacts], numbers: [Double]) {
        var whole = 0
        while whole < slots.count, firsts[whole] + counts[whole] <= removed { whole += 1 }
        slots.removeFirst(whole)
        firsts.removeFirst(whole)
        counts.removeFirst(whole)
        conditionCounts.removeFirst(whole * conditions)
        summaries.removeFirst(whole * stride)
        for bucket in firsts.indices { firsts[bucket] -= removed }
        guard let first = firsts.first, first < 0 else { return }
        // The first bucket lost its oldest facts: rebuild it from those kept.
        let kept = counts[0] + first
        var rebuilt = HistoryIndex(facts: [], numbers: [], conditions: conditions, stride: stride)
        for index in 0..<kept { rebuilt.append(facts[index], numbers: numbers, at: index) }
        firsts[0] = 0
        counts[0] = kept
        conditionCounts.replaceSubrange(0..<conditions, with: rebuilt.conditionCounts.prefix(conditions))
        summaries.replaceSubrange(0..<stride, with: rebuilt.summaries.prefix(stride))
    }

    /// The buckets, newest first, with whether all of their facts lie in `(from, until]` (read the
    /// bucket's figures) or only some (walk its facts); buckets wholly outside are skipped, and the
    /// walk stops at the first bucket wholly at or before `from`.
    func buckets(from: Int64, until: Int64, facts: [EventFacts], _ body: (Int, Bool) -> Void) {
        var bucket = slots.count - 1
        while bucket >= 0 {
            let earliest = facts[firsts[bucket]].at.microseconds
            let latest = facts[firsts[bucket] + counts[bucket] - 1].at.microseconds
            if latest <= from { return }
            if earliest <= until { body(bucket, earliest > from && latest <= until) }
            bucket -= 1
        }
    }

    /// The indices of a bucket's facts.
    func range(of bucket: Int) -> Range<Int> { firsts[bucket]..<(firsts[bucket] + counts[bucket]) }

    func count(ofBit bit: Int, in bucket: Int) -> Int { Int(conditionCounts[bucket * conditions + bit]) }
    func summary(ofSlot slot: Int, in bucket: Int) -> NumberSummary { summaries[bucket * stride + slot] }
}
