import Glibc  // exp2: math only, no I/O

/// A client's contributions as the score reads them, grouped so that the score at any instant
/// costs about the same however dense the client's events (issue: 10,000 check-ins of one client
/// in 48 h made every event sum every earlier firing).
///
/// Contributions of one shape (weight, half-life, floor, domain, acuteness, active span: one rule) fall into buckets on an absolute
/// time grid a sixteenth of the half-life wide. A bucket keeps its firings' times and, as an exact
/// integer, the sum of `2^((t − start) / half_life)` over them (fixed point, 2⁻⁴⁰), so its decayed
/// weight at `now` is one `exp2`: `weight × 2^(−(now − start) / half_life) × sum`. A bucket whose
/// firings all count at `now` is read whole; one at the edge of what counts (some firings too old,
/// or later than `now`) sums the fixed-point terms of the firings that count. Either way a bucket's
/// value depends only on which of its firings count, never on the order they came in, so a state
/// rebuilt from the store scores exactly as the one kept in memory.
public struct ScoreLedger: Sendable {
    /// The plain values the score walks for every event.
    struct Bucket: Sendable {
        let weight: Double
        let halfLife: Int64
        let floor: Tier?
        let domain: Int
        let acuteFor: Int64
        let activeFor: Int64
        let start: Int64
        /// Σ over its firings of `2^((t − start) / half_life)`, in units of 2⁻⁴⁰.
        var mass: Int64
        var earliest: Int64
        var latest: Int64
    }

    struct Key: Hashable, Sendable {
        let weight: UInt64
        let halfLife: Int64
        let floor: Tier?
        let domain: Int
        let acuteFor: Int64
        let activeFor: Int64
        let slot: Int64
    }

    var buckets: [Bucket] = []
    /// Each bucket's firing times, parallel to `buckets`.
    var times: [[Int64]] = []
    var index: [Key: Int] = [:]

    /// Buckets per half-life.
    static let bucketsPerHalfLife: Int64 = 16
    static let unit = 1_099_511_627_776.0  // 2^40

    public init() {}

    /// The bucket a contribution falls into, and where that bucket starts.
    static func place(_ contribution: Contribution) -> (key: Key, start: Int64) {
        let halfLife = max(1, contribution.halfLife.microseconds)
        let width = max(1, halfLife / bucketsPerHalfLife)
        let at = contribution.at.microseconds
        let slot = at >= 0 ? at / width : (at - width + 1) / width
        let key = Key(
            weight: contribution.weight.bitPattern, halfLife: halfLife, floor: contribution.floor,
            domain: contribution.domain, acuteFor: contribution.acuteFor.microseconds,
            activeFor: contribution.activeFor.microseconds, slot: slot)
        return (key, slot * width)
    }

    /// Adds one contribution.
    public mutating func add(_ contribution: Contribution) {
        let (key, start) = Self.place(contribution)
        let at = contribution.at.microseconds
        let term = Self.term(at, start: start, halfLife: key.halfLife)
        if let position = index[key] {
            buckets[position].mass &+= term
            buckets[position].earliest = min(buckets[position].earliest, at)
            buckets[position].latest = max(buckets[position].latest, at)
            times[position].append(at)
        } else {
            index[key] = buckets.count
            buckets.append(
                Bucket(
                    weight: contribution.weight, halfLife: key.halfLife, floor: contribution.floor,
                    domain: contribution.domain, acuteFor: key.acuteFor, activeFor: key.activeFor, start: start,
                    mass: term, earliest: at, latest: at))
            times.append([at])
        }
    }

    /// Takes one contribution added earlier back out (a firing a later one replaced or ended), exactly:
    /// the bucket's mass is an integer sum. Nothing happens when there is no such contribution.
    public mutating func remove(_ contribution: Contribution) {
        let key = Self.place(contribution).key
        let at = contribution.at.microseconds
        guard let position = index[key], let found = times[position].firstIndex(of: at) else { return }
        times[position].remove(at: found)
        buckets[position].mass &-= Self.term(at, start: buckets[position].start, halfLife: key.halfLife)
        // An emptied bucket never counts again (no time is after `latest`), and the next trim drops it.
        buckets[position].earliest = times[position].min() ?? Int64.max
        buckets[position].latest = times[position].max() ?? Int64.min
    }

    /// Drops every contribution that no longer counts at `horizon` (see `Contribution.isActive`).
    public mutating func removeInactive(at horizon: Timestamp) {
        var kept = ScoreLedger()
        for position in buckets.indices {
            let bucket = buckets[position]
            let cutoff = horizon.microseconds - bucket.activeFor
            guard bucket.latest > cutoff else { continue }
            for at in times[position] where at > cutoff {
                kept.add(
                    Contribution(
                        at: Timestamp(microseconds: at), weight: bucket.weight,
                        halfLife: TimeSpan(microseconds: bucket.halfLife), floor: bucket.floor, domain: bucket.domain,
                        acuteFor: TimeSpan(microseconds: bucket.acuteFor),
                        activeFor: TimeSpan(microseconds: bucket.activeFor)))
            }
        }
        self = kept
    }

    /// The score and tier at `now` from the contributions observed no later than `now` that count
    /// both at `now` and at `horizon` (nil: `now`): the same set `RiskScore` defines. A contribution
    /// whose domain the policy does not have counts in the first domain.
    public func score(at now: Timestamp, horizon: Timestamp? = nil, policy: ScoringPolicy) -> RiskScore {
        let until = now.microseconds
        let reference = max(until, horizon?.microseconds ?? until)
        let domains = policy.domains.count
        var nanopoints = [Int64](repeating: 0, count: domains)
        var floors = [Tier](repeating: .low, count: domains)
        var acute = false
        for position in buckets.indices {
            let bucket = buckets[position]
            let after = reference - bucket.activeFor
            guard bucket.latest > after, bucket.earliest <= until else { continue }
            var mass = bucket.mass
            var latest = bucket.latest
            if bucket.earliest <= after || bucket.latest > until {
                mass = 0
                latest = Int64.min
                for at in times[position] where at > after && at <= until {
                    mass &+= Self.term(at, start: bucket.start, halfLife: bucket.halfLife)
                    latest = max(latest, at)
                }
                if mass == 0 { continue }
            }
            let domain = bucket.domain < domains ? bucket.domain : 0
            let decay = exp2(-Double(until - bucket.start) / Double(bucket.halfLife))
            nanopoints[domain] &+= Int64((bucket.weight * decay * (Double(mass) / Self.unit) * 1e9).rounded())
            if let held = bucket.floor, held > floors[domain] { floors[domain] = held }
            if bucket.acuteFor > 0, until - latest < bucket.acuteFor { acute = true }
        }
        return RiskScore(sums: nanopoints.map { Double($0) / 1e9 }, floors: floors, acute: acute, policy: policy)
    }

    /// `2^((at − start) / half_life)` in units of 2⁻⁴⁰ (exact and order-free once summed).
    static func term(_ at: Int64, start: Int64, halfLife: Int64) -> Int64 {
        Int64((exp2(Double(at - start) / Double(halfLife)) * unit).rounded())
    }
}
