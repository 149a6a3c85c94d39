/// One client's events run through a rule set in arrival order: what fired on each, and the score,
/// tier and active firings at any instant. Pure; `vigil rules test` drives it, and it is the
/// per-client state the daemon keeps between commits (rebuilt from the store after a restart).
///
/// What it keeps is defined by the newest observation time seen, `newest`, alone (never by when or
/// in which batches events arrived), so a replay resumed from the store gives the same results:
/// - history: the arrived events observed at or after `newest − lookBack`, sorted by observation
///   time (ties in arrival order);
/// - firings: those still active at `newest − lookBack`.
public struct ClientReplay: Sendable {
    public let ruleSet: RuleSet
    public let thresholds: TierThresholds
    /// Earlier events, sorted by observation time, trimmed to the rule set's look-back.
    public private(set) var history: [ObservedEvent] = []
    /// The firings so far, in arrival order; those that no longer count are dropped in bulk, so
    /// memory and cost stay bounded however long the client's history.
    public private(set) var firings: [Firing] = []
    /// `firings` as plain values (no names), which the score reads after every event.
    var contributions: [Contribution] = []
    /// The firing count at which the next trim happens.
    var trimAt = 256

    public init(ruleSet: RuleSet, thresholds: TierThresholds) {
        self.ruleSet = ruleSet
        self.thresholds = thresholds
    }

    /// Resumes a replay from stored state: `history` in arrival order, `firings` in arrival order.
    /// Anything beyond what a continuous replay would keep is dropped.
    public init(ruleSet: RuleSet, thresholds: TierThresholds, history: [CheckIn], firings: [Firing]) {
        self.init(ruleSet: ruleSet, thresholds: thresholds)
        for event in history { record(ObservedEvent(event)) }
        self.firings = firings
        self.contributions = firings.map(\.contribution)
        trimFirings(force: true)
    }

    /// The instant before which nothing is kept: `newest − lookBack`.
    public var horizon: Timestamp? {
        history.last.map { $0.checkIn.at.adding(TimeSpan(microseconds: -ruleSet.lookBack.microseconds)) }
    }

    /// Evaluates the rules on `event` against the history, records it, and returns what fired.
    @discardableResult
    public mutating func ingest(_ event: CheckIn) -> [Firing] {
        ingest(ObservedEvent(event))
    }

    /// `ingest(_:)` for an event already wrapped (the daemon wraps events off the commit path).
    @discardableResult
    public mutating func ingest(_ observed: ObservedEvent) -> [Firing] {
        let fired = ruleSet.firings(for: observed, history: history[...])
        firings += fired
        contributions += fired.map(\.contribution)
        record(observed)
        trimFirings(force: false)
        return fired
    }

    mutating func record(_ observed: ObservedEvent) {
        let at = observed.checkIn.at
        if let last = history.last, last.checkIn.at > at {
            history.insert(observed, at: history.firstIndex { $0.checkIn.at > at } ?? history.endIndex)
        } else {
            history.append(observed)
        }
        guard let horizon else { return }
        if let keep = history.firstIndex(where: { $0.checkIn.at >= horizon }), keep > 0 {
            history.removeFirst(keep)
        }
    }

    /// Drops firings no longer active at the horizon; they cannot count for any event kept or to come
    /// (an event observed after the horizon is later than their active span). Amortised: only when
    /// the list has doubled since the last trim, unless `force`.
    mutating func trimFirings(force: Bool) {
        guard force || firings.count > trimAt, let horizon else { return }
        firings.removeAll { !$0.contribution.isActive(at: horizon) }
        contributions.removeAll { !$0.isActive(at: horizon) }
        trimAt = max(256, firings.count * 2)
    }

    /// The firings observed no later than `now` that still count then (and are kept: see the type).
    public func activeFirings(at now: Timestamp) -> [Firing] {
        let horizon = self.horizon ?? now
        return firings.filter {
            $0.at <= now && $0.contribution.isActive(at: now) && $0.contribution.isActive(at: horizon)
        }
    }

    /// The score and tier at `now`: those of `activeFirings(at: now)`.
    public func score(at now: Timestamp) -> RiskScore {
        let horizon = self.horizon ?? now
        return RiskScore(
            contributions: contributions.lazy.filter { $0.at <= now && $0.isActive(at: horizon) }, at: now,
            thresholds: thresholds)
    }
}
