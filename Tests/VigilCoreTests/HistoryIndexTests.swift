import XCTest

@testable import VigilCore

/// A dense history's hourly index (see `HistoryIndex`) answers every aggregate as a walk over its
/// events would, through appends, late events and trimming.
final class HistoryIndexTests: XCTestCase {
    let start = Timestamp(microseconds: 1_800_000_000_000_000)

    struct Kept {
        var at: Timestamp
        var bits: UInt64
        var values: [Double]
    }

    func testTheIndexAnswersAsAWalkWould() {
        var generator = SeededGenerator(state: 17)
        var history = History(stride: 2, conditions: 3)
        var kept: [Kept] = []
        var newest = start
        for step in 0..<3_000 {
            // Mostly in order, a few minutes apart; one in 50 late by up to a day.
            let late = step % 50 == 49
            let at =
                late
                ? newest.adding(TimeSpan(microseconds: -Int64.random(in: 0..<86_400_000_000, using: &generator)))
                : newest.adding(TimeSpan(microseconds: Int64.random(in: 0..<600_000_000, using: &generator)))
            if !late { newest = at }
            let bits = UInt64.random(in: 0..<8, using: &generator) & (step % 7 == 0 ? 0b111 : 0b011)
            let values = [
                Bool.random(using: &generator) ? Double(Int.random(in: 0...10, using: &generator)) : .nan,
                step % 13 == 0 ? Double(step) : .nan,
            ]
            history.insert(EventFacts(at: at, conditions: bits), numbers: values)
            kept.insert(
                Kept(at: at, bits: bits, values: values), at: kept.lastIndex { $0.at <= at }.map { $0 + 1 } ?? 0)
            if step % 400 == 399 {
                let horizon = newest.adding(.hours(-60))
                history.trim(before: horizon)
                kept.removeAll { $0.at < horizon }
            }
            XCTAssertEqual(history.index != nil, kept.count >= HistoryIndex.threshold, "indexed while dense")
            guard step % 37 == 0 else { continue }
            let query = step % 74 == 0 ? at : newest
            for window in [TimeSpan.minutes(30), .hours(7), .hours(48)] {
                let from = query.microseconds - window.microseconds
                let inside = kept.filter { $0.at.microseconds > from && $0.at <= query }
                for bit in 0..<3 {
                    XCTAssertEqual(
                        history.count(1 << UInt64(bit), within: window, endingAt: query),
                        inside.filter { $0.bits & (1 << UInt64(bit)) != 0 }.count, "count, step \(step)")
                }
                for slot in 0..<2 {
                    let values = inside.map { $0.values[slot] }.filter { !$0.isNaN }
                    let summary = history.summary(slot, within: window, endingAt: query)
                    XCTAssertEqual(summary.count, values.count, "step \(step)")
                    XCTAssertEqual(summary.sum, values.reduce(0, +), accuracy: 1e-6, "step \(step)")
                    XCTAssertEqual(summary.minimum, values.min() ?? .infinity, "step \(step)")
                    XCTAssertEqual(summary.maximum, values.max() ?? -.infinity, "step \(step)")
                }
            }
            for slot in 0..<2 {
                let expected = kept.last { $0.at <= query && !$0.values[slot].isNaN }?.values[slot]
                XCTAssertEqual(history.last(slot, before: query), expected, "last, step \(step)")
            }
            XCTAssertEqual(
                history.lastMatch(0b100, before: query), kept.last { $0.at <= query && $0.bits & 0b100 != 0 }?.at,
                "lastMatch, step \(step)")
        }
    }
}
