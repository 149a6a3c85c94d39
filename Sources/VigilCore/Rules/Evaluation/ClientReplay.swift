/// One client's events run through a rule set in arrival order: what fired on each, and the score,
/// tier and active firings at any instant. Pure; `vigil rules test` drives it, and it is the
/// per-client state the daemon's evaluation keeps.
public struct ClientReplay: Sendable {
    public let ruleSet: RuleSet
    public let thresholds: TierThresholds
    /// Earlier events, sorted by observation time, trimmed to the rule set's look-back.
    public private(set) var history: [ObservedEvent] = []
    /// The firings so far, in arrival order; those inactive at the newest event are dropped in bulk,
    /// so memory and cost stay bounded however long the client's history.
    public private(set) var firings: [Firing] = []

    public init(ruleSet: RuleSet, thresholds: TierThresholds) {
        self.ruleSet = ruleSet
        self.thresholds = thresholds
    }

    /// Evaluates the rules on `event` against the history, records it, and returns what fired.
    @discardableResult
    public mutating func ingest(_ event: CheckIn) -> [Firing] {
        let observed = ObservedEvent(event)
        let fired = ruleSet.firings(for: observed, history: history[...])
        firings += fired
        let at = event.at
        if let last = history.last, last.checkIn.at > at {
            history.insert(observed, at: history.firstIndex { $0.checkIn.at > at } ?? history.endIndex)
        } else {
            history.append(observed)
        }
        if let newest = history.last?.checkIn.at {
            let cutoff = newest.microseconds - ruleSet.lookBack.microseconds
            if let keep = history.firstIndex(where: { $0.checkIn.at.microseconds >= cutoff }), keep > 0 {
                history.removeFirst(keep)
            }
            // Firings that no longer count at the newest event never count again for later events.
            if firings.count > 256, let keep = firings.firstIndex(where: { $0.contribution.isActive(at: newest) }),
                keep > firings.count / 2
            {
                firings.removeFirst(keep)
            }
        }
        return fired
    }

    /// The firings observed no later than `now` that still count then.
    public func activeFirings(at now: Timestamp) -> [Firing] {
        firings.filter { $0.at <= now && $0.contribution.isActive(at: now) }
    }

    /// The score and tier at `now`.
    public func score(at now: Timestamp) -> RiskScore {
        RiskScore(contributions: activeFirings(at: now).map(\.contribution), at: now, thresholds: thresholds)
    }
}
