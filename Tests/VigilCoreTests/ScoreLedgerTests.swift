import Glibc
import XCTest

@testable import VigilCore

/// The bucketed score (see `ScoreLedger`): the same figure as summing every firing, exactly the
/// same whatever the order or the trimming, and bounded work for a dense client.
final class ScoreLedgerTests: XCTestCase {
    let thresholds = ScoringPolicy(thresholds: TierThresholds(moderate: 20, high: 45, imminent: 70))
    let start = Timestamp(microseconds: 1_800_000_000_000_000)

    /// Firings of three shapes (one with a floor, one protective) spread over `hours`.
    func contributions(_ count: Int, hours: Double, seed: UInt64) -> [Contribution] {
        var generator = SeededGenerator(state: seed)
        let shapes: [(Double, TimeSpan, Tier?)] = [
            (12, .hours(72), nil), (-5, .hours(24), nil), (3, .hours(168), .moderate),
        ]
        return (0..<count).map { _ in
            let (weight, halfLife, floor) = shapes[Int.random(in: 0..<shapes.count, using: &generator)]
            let offset = Int64(Double.random(in: 0..<hours, using: &generator) * 3_600_000_000)
            return Contribution(
                at: start.adding(TimeSpan(microseconds: offset)), weight: weight, halfLife: halfLife, floor: floor)
        }
    }

    /// The definition, summed firing by firing.
    func naive(_ contributions: [Contribution], at now: Timestamp) -> (Double, Tier) {
        var sum = 0.0
        var floor = Tier.low
        for contribution in contributions where contribution.at <= now && contribution.isActive(at: now) {
            sum += contribution.weight(at: now)
            if let held = contribution.floor, held > floor { floor = held }
        }
        let score = min(100, max(0, sum))
        return (score, max(thresholds.domains[0].thresholds.tier(for: score), floor))
    }

    func testTheScoreIsTheSumOfEveryFiringThatCounts() {
        let all = contributions(3_000, hours: 400, seed: 7)
        var ledger = ScoreLedger()
        for contribution in all { ledger.add(contribution) }
        for hours in stride(from: 0.0, through: 1_200, by: 37.5) {
            let now = start.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000)))
            let (expected, tier) = naive(all, at: now)
            let score = ledger.score(at: now, policy: thresholds)
            XCTAssertEqual(score.score, expected, accuracy: 1e-6, "at +\(hours) h")
            XCTAssertEqual(score.tier, tier, "at +\(hours) h")
        }
    }

    func testTheScoreDoesNotDependOnOrderOrTrimming() {
        let all = contributions(2_000, hours: 300, seed: 11)
        var inOrder = ScoreLedger()
        for contribution in all { inOrder.add(contribution) }
        var shuffled = ScoreLedger()
        var generator = SeededGenerator(state: 3)
        for contribution in all.shuffled(using: &generator) { shuffled.add(contribution) }
        let horizon = start.adding(.hours(200))
        var trimmed = inOrder
        trimmed.removeInactive(at: horizon)
        XCTAssertLessThan(trimmed.times.joined().count, all.count, "trimming dropped what no longer counts")
        for hours in stride(from: 200.0, through: 900, by: 13.25) {
            let now = start.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000)))
            let reference = inOrder.score(at: now, horizon: horizon, policy: thresholds)
            XCTAssertEqual(shuffled.score(at: now, horizon: horizon, policy: thresholds), reference, "+\(hours) h")
            XCTAssertEqual(trimmed.score(at: now, horizon: horizon, policy: thresholds), reference, "+\(hours) h")
        }
    }

    func testADenseClientKeepsFewBuckets() {
        let all = contributions(10_000, hours: 48, seed: 5)
        var ledger = ScoreLedger()
        for contribution in all { ledger.add(contribution) }
        // 48 h over buckets of a sixteenth of a half-life (4.5 h, 1.5 h and 10.5 h): at most 11 + 33 + 5,
        // plus one at each edge of the grid per shape.
        XCTAssertLessThanOrEqual(ledger.buckets.count, 11 + 33 + 5 + 3)
        XCTAssertEqual(ledger.times.joined().count, 10_000)
    }
}

/// A small deterministic generator (SplitMix64) so the figures above are the same every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
