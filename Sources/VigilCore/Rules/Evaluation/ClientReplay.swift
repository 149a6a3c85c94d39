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
    public let policy: ScoringPolicy
    /// Earlier events' facts, sorted by observation time, trimmed to the rule set's look-back.
    public private(set) var history: History
    /// The firings so far, in arrival order; those that no longer count are dropped in bulk, so
    /// memory and cost stay bounded however long the client's history.
    public private(set) var firings: [Firing] = []
    /// The silences of `absent:` rules already decided (fired or not), so each is decided once.
    public private(set) var decidedSilences: Set<Silence> = []
    /// False while every silence due before the newest event is known to be decided, so that an
    /// in-order event need only look at the newest match of each rule; set by a late event (whose
    /// match can open a gap in the past) and by a rebuild from the store.
    var olderSilencesMayWait = false
    /// `firings` as the score reads them after every event (see `ScoreLedger`).
    var ledger = ScoreLedger()
    /// The firing count at which the next trim happens.
    var trimAt = 256
    /// Parallel to the rule set's `eventRules` (empty until a repeat rule fires): the time and event of
    /// each repeat rule's latest counted firing.
    var lastCounted: [(at: Timestamp, event: String)?] = []
    /// Each protective code reported in the kept history, with its latest observation time: what
    /// the team's tasks say is already in place (it never changes the score).
    public private(set) var protective: [String: Timestamp] = [:]
    /// The tier the client's open episode holds, and until when (set by the `Evaluator` before each
    /// use): an `absent:` rule's `tier_at_least` reads the held tier, as everyone downstream does.
    public var held: (tier: Tier, until: Timestamp)?
    /// The step-down watch, set like `held`: until when the client's thresholds are the lowered
    /// ones of `policy` (see `WatchPolicy`).
    public var watch: (until: Timestamp, policy: ScoringPolicy)?

    public init(ruleSet: RuleSet, policy: ScoringPolicy) {
        self.ruleSet = ruleSet
        self.policy = policy
        self.history = ruleSet.emptyHistory()
    }

    /// Resumes a replay from stored state: `history` and `firings` in arrival order, and the silences
    /// already decided. Anything beyond what a continuous replay would keep is dropped.
    public init(
        ruleSet: RuleSet, policy: ScoringPolicy, history: [CheckIn], firings: [Firing],
        decidedSilences: Set<Silence> = []
    ) {
        self.init(ruleSet: ruleSet, policy: policy)
        for event in history { record(ObservedEvent(event)) }
        self.firings = firings
        self.decidedSilences = decidedSilences
        self.olderSilencesMayWait = true
        for firing in firings { ledger.add(firing.contribution) }
        for firing in firings {
            guard let index = ruleSet.eventRuleIndex[firing.rule], ruleSet.eventRepeatWindows[index] > 0 else {
                continue
            }
            if lastCounted.isEmpty { lastCounted = Array(repeating: nil, count: ruleSet.eventRules.count) }
            if lastCounted[index].map({ $0.at <= firing.at }) ?? true { lastCounted[index] = (firing.at, firing.event) }
        }
        trimFirings(force: true)
    }

    /// The instant before which nothing is kept: `newest − lookBack`.
    public var horizon: Timestamp? {
        history.newest.map { $0.adding(TimeSpan(microseconds: -ruleSet.lookBack.microseconds)) }
    }

    /// What ingesting one event did: the silences that fell due before it (decided first, so none
    /// is lost when recording the event moves the look-back past its start), the rules it fired, and
    /// the firings that no longer count because of it (replaced by a repeat, or by a later result:
    /// see `RuleDefinition.repeatWindow` and `replacedBy`), its own among them when a newer one
    /// already replaces it.
    public struct Ingested: Sendable {
        public var silences: [SilenceDecision]
        public var fired: [Firing]
        public var ended: [Firing]
        /// Whether the event is a new result of an instrument (it matches a rule's `replaced_by:`).
        public var isNewResult: Bool
    }

    /// Decides the silences due before an event observed at `at` (the first step of `ingest`; the
    /// evaluator takes it apart when it must act between the two).
    public mutating func decideSilences(before at: Timestamp) -> [SilenceDecision] {
        guard !ruleSet.absenceRules.isEmpty else { return [] }
        let inOrder = history.newest.map { at >= $0 } ?? true
        let silences =
            inOrder && !olderSilencesMayWait
            ? decide(deadlinesAfterNewestMatches(before: at))
            : decideAbsences(dueBy: at.adding(TimeSpan(microseconds: -1)))
        if !inOrder { olderSilencesMayWait = true }
        return silences
    }

    /// Decides the silences due before `event` (unless `silences` were decided already), evaluates
    /// the rules on it against the history, records it, and returns what happened.
    @discardableResult
    public mutating func ingest(_ event: CheckIn, silences decided: [SilenceDecision]? = nil) -> Ingested {
        let silences = decided ?? decideSilences(before: event.at)
        let observed = ObservedEvent(event)
        let rules = ruleSet.firedRules(for: observed, history: history)
        let fired = rules.map { ruleSet.firing(of: $0, by: observed) }
        firings += fired
        for firing in fired { ledger.add(firing.contribution) }
        let bits = record(observed)
        var ended: [Firing] = []
        var isNewResult = false
        if ruleSet.endsFirings {
            isNewResult = ruleSet.eventReplacementBits.contains { $0 & bits != 0 }
            ended = end(replacingWith: bits, at: event.at, fired: zip(rules, fired).map { ($0, $1) })
        }
        trimFirings(force: false)
        return Ingested(silences: silences, fired: fired, ended: ended, isNewResult: isNewResult)
    }

    /// Ends what an event observed at `at` (with condition bits `bits`, already recorded) and its
    /// firings replace:
    /// - for a rule with `repeat: once_per W`, the rule's counted firing in the W before each new one
    ///   (or the new one, when a counted one within W after it is already here);
    /// - for each rule whose `replaced_by:` bit the event has, the rule's firings observed before it;
    /// - for a new firing of a rule with `replaced_by:`, the firing itself when a later matching event
    ///   is already here.
    /// Returns them. In arrival order a repeat costs one look at the rule's latest counted firing.
    mutating func end(replacingWith bits: UInt64, at: Timestamp, fired: [(rule: Int, firing: Firing)]) -> [Firing] {
        var ended: [Firing] = []
        func finish(_ doomed: (Firing) -> Bool) {
            firings.removeAll { firing in
                guard doomed(firing) else { return false }
                ledger.remove(firing.contribution)
                ended.append(firing)
                return true
            }
        }
        /// Ends one firing, looked for from the newest (a repeat's predecessor is recent).
        func finish(_ rule: String, event: String, at: Timestamp) {
            guard let index = firings.lastIndex(where: { $0.at == at && $0.event == event && $0.rule == rule })
            else { return }
            ledger.remove(firings[index].contribution)
            ended.append(firings.remove(at: index))
        }
        for (index, new) in fired {
            let window = ruleSet.eventRepeatWindows[index]
            guard window > 0 else { continue }
            if lastCounted.isEmpty { lastCounted = Array(repeating: nil, count: ruleSet.eventRules.count) }
            if let last = lastCounted[index], last.at > new.at {
                // Arrived late: replaced at once by a counted one within the window after it, or
                // replacing the counted ones within the window before it.
                let span = TimeSpan(microseconds: window)
                if firings.contains(where: { $0.rule == new.rule && $0.at > new.at && $0.at <= new.at.adding(span) }) {
                    finish(new.rule, event: new.event, at: new.at)
                } else {
                    finish {
                        $0.rule == new.rule && $0.event != new.event && $0.at <= new.at
                            && $0.at >= new.at.adding(TimeSpan(microseconds: -window))
                    }
                }
                continue
            }
            if let last = lastCounted[index], new.at.microseconds - last.at.microseconds <= window {
                finish(new.rule, event: last.event, at: last.at)
            }
            lastCounted[index] = (new.at, new.event)
        }
        for (index, bit) in ruleSet.eventReplacementBits.enumerated() where bit & bits != 0 {
            let rule = ruleSet.eventRules[index].id
            finish { $0.rule == rule && $0.at < at }
        }
        for (index, new) in fired {
            let bit = ruleSet.eventReplacementBits[index]
            guard bit != 0, let latest = history.lastMatch(bit, before: .distantFuture), latest > new.at else {
                continue
            }
            finish(new.rule, event: new.event, at: new.at)
        }
        return ended
    }

    @discardableResult
    mutating func record(_ observed: ObservedEvent) -> UInt64 {
        let bits = ruleSet.record(observed, in: &history)
        let at = observed.checkIn.at
        for code in observed.checkIn.protective where protective[code].map({ $0 < at }) ?? true {
            protective[code] = at
        }
        if let horizon { history.trim(before: horizon) }
        return bits
    }

    /// The protective codes reported at or after `since` (and kept), sorted.
    public func protective(since: Timestamp) -> [String] {
        let kept = max(since, horizon ?? since)
        return protective.filter { $0.value >= kept }.map(\.key).sorted()
    }

    /// Drops firings no longer active at the horizon; they cannot count for any event kept or to come
    /// (an event observed after the horizon is later than their active span). Amortised: only when
    /// the list has doubled since the last trim, unless `force`.
    mutating func trimFirings(force: Bool) {
        guard force || firings.count > trimAt, let horizon else { return }
        firings.removeAll { !$0.contribution.isActive(at: horizon) }
        ledger.removeInactive(at: horizon)
        protective = protective.filter { $0.value >= horizon }
        decidedSilences = decidedSilences.filter { $0.at >= horizon }
        trimAt = max(256, firings.count * 2)
    }

    /// The silences of each `absent:` rule not yet fired, by deadline: a kept event matching the rule
    /// (observed by `now`) followed by no matching event for the rule's duration falls due at its time
    /// plus that duration. The last match's deadline may lie after `now` (pending). A client with no
    /// matching event in the kept history is not awaited: the clock starts at a match.
    public func absenceDeadlines(asOf now: Timestamp) -> [(rule: CompiledRule, at: Timestamp)] {
        var deadlines: [(rule: CompiledRule, at: Timestamp)] = []
        for rule in ruleSet.absenceRules {
            guard let absence = rule.absence else { continue }
            let matches = history.matches(rule.matchBit, through: now)
            // A silence decided at D was measured from a match at D − duration; a match that arrived
            // late inside it starts no new silence until D + duration (the same gap, counted once).
            var previous: Timestamp?
            for at in matches + [Timestamp.distantFuture] {
                if let start = previous, at > start.adding(absence.duration) {
                    let deadline = start.adding(absence.duration)
                    if !isDecided(rule, absence, deadline) { deadlines.append((rule, deadline)) }
                }
                previous = at
            }
        }
        return deadlines
    }

    /// Whether a silence of `rule` due at `deadline` was decided, itself or as part of the same gap.
    func isDecided(_ rule: CompiledRule, _ absence: Absence, _ deadline: Timestamp) -> Bool {
        decidedSilences.contains {
            $0.rule == rule.id && $0.at <= deadline && deadline <= $0.at.adding(absence.duration)
        }
    }

    /// The silences due before an in-order event when every earlier one is decided: only the newest
    /// match of each rule can start one (a walk back to it, not over the whole history).
    func deadlinesAfterNewestMatches(before at: Timestamp) -> [(rule: CompiledRule, at: Timestamp)] {
        ruleSet.absenceRules.compactMap { rule in
            guard let absence = rule.absence, let last = history.lastMatch(rule.matchBit, before: .distantFuture)
            else { return nil }
            let deadline = last.adding(absence.duration)
            return deadline < at && !isDecided(rule, absence, deadline) ? (rule, deadline) : nil
        }
    }

    /// The earliest undecided deadline (when the timer should look at this client), if any.
    public var nextAbsenceDue: Timestamp? {
        absenceDeadlines(asOf: .distantFuture).map(\.at).min()
    }

    /// Decides every silence due by `now`, in deadline order: the `absent:` rule fires at the
    /// deadline if the client's tier then (or the tier held) is at least the rule's `tier_at_least`;
    /// otherwise that silence does not count. Either way it is decided once.
    public mutating func decideAbsences(dueBy now: Timestamp) -> [SilenceDecision] {
        let decisions = decide(absenceDeadlines(asOf: now).filter { $0.at <= now })
        if let newest = history.newest, now >= newest { olderSilencesMayWait = false }
        return decisions
    }

    /// Decides the given silences in deadline order.
    mutating func decide(_ due: [(rule: CompiledRule, at: Timestamp)]) -> [SilenceDecision] {
        var decisions: [SilenceDecision] = []
        for (rule, deadline) in due.sorted(by: { $0.at < $1.at }) {
            guard let absence = rule.absence else { continue }
            let before = score(at: deadline)
            let firing = rule.firing(event: "", at: deadline)
            let heldTier = held.flatMap { deadline < $0.until ? $0.tier : nil } ?? .low
            let fires = max(before.tier, heldTier) >= absence.tierAtLeast
            if fires {
                firings.append(firing)
                ledger.add(firing.contribution)
            }
            decidedSilences.insert(Silence(rule: rule.id, at: deadline))
            decisions.append(SilenceDecision(firing: firing, fired: fires, before: before, score: score(at: deadline)))
        }
        return decisions
    }

    /// The firings observed no later than `now` that still count then (and are kept: see the type).
    public func activeFirings(at now: Timestamp) -> [Firing] {
        let horizon = self.horizon ?? now
        return firings.filter {
            $0.at <= now && $0.contribution.isActive(at: now) && $0.contribution.isActive(at: horizon)
        }
    }

    /// The score and tier at `now`: those of `activeFirings(at: now)`.
    public func score(at now: Timestamp) -> RiskScore { score(at: now, watch: watch) }

    /// The score and tier at `now` under `watch` instead of the one set (no copy of the replay).
    public func score(at now: Timestamp, watch: (until: Timestamp, policy: ScoringPolicy)?) -> RiskScore {
        if let watch, now < watch.until { return ledger.score(at: now, horizon: horizon, policy: watch.policy) }
        return ledger.score(at: now, horizon: horizon, policy: policy)
    }
}

/// One silence of an `absent:` rule: the rule and the deadline at which it fell due.
public struct Silence: Hashable, Sendable {
    public var rule: String
    public var at: Timestamp

    public init(rule: String, at: Timestamp) {
        self.rule = rule
        self.at = at
    }
}

/// What deciding a silence did: the firing (made whether or not it counts), whether it counts, and
/// the client's score and tier at the deadline before and after it.
public struct SilenceDecision: Sendable {
    public var firing: Firing
    public var fired: Bool
    public var before: RiskScore
    public var score: RiskScore
}
