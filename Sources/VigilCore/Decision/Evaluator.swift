/// The decision core: from a client's state and its new check-ins (or a clock tick) to its next
/// state and the effects to persist. Pure: no I/O, time passed in. The daemon, the absence timer,
/// `vigil rules test`, `vigil client show` and the benchmarks all call it; nothing else decides.
///
/// - Each check-in is evaluated against the rule set (`ClientReplay`) and gets an evaluation.
/// - The client's tiers drive its episode: opened at a rise above `low`, raised when a domain's tier
///   rises above what was planned for it, closed when the client's tier is back to `low`. The tier
///   an episode reached holds for `policy.hold` after its latest rise, whatever the decay (`score`).
///   Planning acts on the tiers at the client's newest observation, so a late check-in neither
///   closes an episode nor re-plans a tier the client has since left.
/// - A rise plans once per call, at the highest tiers the call reached (several check-ins in one
///   batch are one rise, not one per intermediate tier). The plan is cumulative and merged across
///   the elevated domains (see `ResponsePlans.lines(for:)`); an open task with the same plan key
///   is superseded, so a client never holds two open tasks for the same job.
/// - A `take` or `ack` check-in records who took a task, or resolves it (`TaskAction`); the rules
///   never see it.
/// - A `contact` check-in resolves (reached) or counts an attempt on an open outreach task: the one
///   it names, else the earliest due caring contact or follow-up that existed when the contact was
///   made (give or take the 5 minutes of clock skew check-ins may have) and that the contact's
///   source may answer (`roleSources`).
public struct Evaluator: Sendable {
    public let ruleSet: RuleSet
    public let policy: ScoringPolicy
    public let plans: ResponsePlans
    /// The policy with the step-down watch's lowered thresholds (nil: no watch).
    let watchPolicy: ScoringPolicy?

    /// How much earlier than a task's creation a contact may be observed and still answer it.
    public static let contactSkew = TimeSpan.minutes(5)

    public init(ruleSet: RuleSet, policy: ScoringPolicy, plans: ResponsePlans) {
        self.ruleSet = ruleSet
        self.policy = policy
        self.plans = plans
        self.watchPolicy = plans.aftercare.watch == nil ? nil : policy.watchLowering.map { policy.lowered(by: $0) }
    }

    /// The state of a client never seen before.
    public func newClient(_ client: String) -> ClientState {
        ClientState(client: client, replay: ClientReplay(ruleSet: ruleSet, policy: policy))
    }

    /// The client's score at `now` as planning and everyone downstream see it: the rule state's,
    /// with the tier held at the open episode's tier until `policy.hold` after its latest rise.
    public func score(of state: ClientState, at now: Timestamp) -> RiskScore {
        policy.held(state.replay.score(at: now, watch: watch(state)), episode: state.cursor.open, at: now)
    }

    /// The step-down watch the rule state scores under, if the client is on one.
    func watch(_ state: ClientState) -> (until: Timestamp, policy: ScoringPolicy)? {
        guard let until = state.cursor.watchUntil, let watchPolicy else { return nil }
        return (until, watchPolicy)
    }

    /// The tier the open episode holds and until when, for the rule state's absence decisions.
    func held(_ state: ClientState) -> (tier: Tier, until: Timestamp)? {
        state.cursor.open.map { ($0.tier, $0.heldUntil) }
    }

    /// Evaluates `client`'s new check-ins, in arrival order, detected at `now`.
    public func evaluate(_ state: inout ClientState, checkIns: [CheckIn], at now: Timestamp) -> [Effect] {
        var round = Round(now: now)
        round.effects.reserveCapacity(checkIns.count + 1)
        for (index, checkIn) in checkIns.enumerated() {
            if let action = checkIn.action, checkIn.kind.isTaskAction {
                // A person's act on a task observes nothing about the client: no rule reads it.
                flush(&state, round: &round)
                round.effects.append(
                    .evaluated(checkIn: index, fired: [], ended: [], score: score(of: state, at: checkIn.at)))
                apply(action, kind: checkIn.kind, event: checkIn.id, to: &state, round: &round)
                continue
            }
            // The tier in the quiet just before this check-in: `low` ends an open episode.
            let quiet = max(checkIn.at, state.replay.history.newest ?? checkIn.at)
            let before = state.cursor.open == nil ? Tier.low : score(of: state, at: quiet).tier
            state.replay.held = held(state)
            state.replay.watch = watch(state)
            // The silences due before the check-in are decided as of then; an episode that had ended
            // in the quiet then closes before the check-in is scored: a watch it starts applies to
            // this check-in already.
            let silences = state.replay.decideSilences(before: checkIn.at)
            if before == .low, let open = state.cursor.open {
                close(
                    &state, endedAt: max(open.heldUntil, state.replay.history.newest ?? open.heldUntil), round: &round)
                state.replay.held = held(state)
                state.replay.watch = watch(state)
            }
            let ingested = state.replay.ingest(checkIn, silences: silences)
            if ingested.isNewResult { release(&state, at: checkIn.at, round: &round) }
            let score = score(of: state, at: checkIn.at)
            if ingested.isNewResult {
                reconcile(ingested.ended, with: checkIn, score: score, state: &state, round: &round)
            }
            round.effects += ingested.silences.map(Effect.silence)
            round.effects.append(.evaluated(checkIn: index, fired: ingested.fired, ended: ingested.ended, score: score))
            let current = quiet == checkIn.at ? score : self.score(of: state, at: quiet)
            step(
                &state, before: before, after: current, observedAt: quiet, fired: !ingested.fired.isEmpty,
                round: &round)
            if plans.aftercare.program?.startKinds.contains(checkIn.kind) == true {
                startProgram(&state, round: &round)
            }
            if checkIn.kind == .contact, let contact = checkIn.contact {
                flush(&state, round: &round)
                apply(contact, of: checkIn, to: &state, round: &round)
            }
            if checkIn.kind == .plan, let plan = checkIn.plan {
                flush(&state, round: &round)
                apply(plan, of: checkIn, to: &state, round: &round)
            }
        }
        return finish(&state, round: &round)
    }

    /// Decides every silence of an `absent:` rule due by `now` (see `ClientReplay.decideAbsences`);
    /// a silence that fires moves the score and may raise the episode like a check-in.
    public func tick(_ state: inout ClientState, at now: Timestamp) -> [Effect] {
        var round = Round(now: now)
        state.replay.held = held(state)
        state.replay.watch = watch(state)
        for decision in state.replay.decideAbsences(dueBy: now) {
            round.effects.append(.silence(decision))
            guard decision.fired else { continue }
            // The tier just before the deadline tells whether an open episode had ended (an absence
            // rule may fire at any tier); the tier after it, whether this is a rise.
            let at = decision.firing.at
            step(
                &state, before: policy.held(decision.before, episode: state.cursor.open, at: at).tier,
                after: policy.held(decision.score, episode: state.cursor.open, at: at), observedAt: at, fired: true,
                round: &round)
        }
        return finish(&state, round: &round)
    }

    /// What one call has decided so far, and the rise it has not planned yet.
    struct Round {
        let now: Timestamp
        var effects: [Effect] = []
        /// A rise waiting to be planned: whether it opened the episode, and the score and time of
        /// the observation that took it highest (its active firings are the tasks' reasons).
        var rise: (opened: Bool, score: Double, at: Timestamp)?

        init(now: Timestamp) { self.now = now }
    }

    /// Moves the episode for one observation: `before` is the tier just before it, after decay;
    /// `fired` tells whether the observation fired a rule. On the step-down watch, only an
    /// observation that fired opens an episode: the lowered thresholds catch a new crisis earlier,
    /// never the decaying remains of the one just closed.
    func step(
        _ state: inout ClientState, before: Tier, after: RiskScore, observedAt: Timestamp, fired: Bool,
        round: inout Round
    ) {
        if before == .low || after.tier == .low { close(&state, endedAt: observedAt, round: &round) }
        guard after.tier > .low else { return }
        if state.cursor.open == nil, !fired, let until = state.cursor.watchUntil, observedAt < until { return }
        if var open = state.cursor.open {
            guard open.absorb(after, at: observedAt, hold: policy.hold) else { return }
            state.cursor.open = open
            round.rise = (round.rise?.opened ?? false, after.score, observedAt)
        } else {
            state.cursor.lastNumber += 1
            // The hold counts from the observation (its `at`), not from when Vigil detected it.
            var episode = Episode(
                number: state.cursor.lastNumber, tier: .low, openedAt: round.now, heldUntil: observedAt)
            _ = episode.absorb(after, at: observedAt, hold: policy.hold)
            state.cursor.open = episode
            round.rise = (true, after.score, observedAt)
        }
    }

    /// Closes the open episode, if any (planning its pending rise first), as ended at `endedAt` (the
    /// observation it was seen at, or, noticed at a check-in after a quiet, the end of its hold or the
    /// last observation before the quiet). One at `high` or above puts the client on the step-down
    /// watch from then.
    func close(_ state: inout ClientState, endedAt: Timestamp, round: inout Round) {
        guard var open = state.cursor.open else { return }
        flush(&state, round: &round)
        state.cursor.open = nil
        state.cursor.planned = []
        if open.tier >= .high, let watch = plans.aftercare.watch {
            let until = endedAt.adding(watch.period)
            open.watchUntil = until
            state.cursor.watchUntil = max(state.cursor.watchUntil ?? until, until)
        }
        round.effects.append(.episode(.closed(open)))
    }

    /// Plans the pending rise, if any: the cumulative plans of the episode's domain tiers, merged,
    /// each task once per episode, superseding any other open task for the same job.
    func flush(_ state: inout ClientState, round: inout Round) {
        guard let rise = round.rise, let episode = state.cursor.open else { return }
        round.rise = nil
        round.effects.append(.episode(rise.opened ? .opened(episode) : .raised(episode)))
        let reasons = TaskReason.of(state.replay.activeFirings(at: rise.at), ruleSet: ruleSet)
        if let program = plans.aftercare.program, episode.tier >= program.startTier {
            startProgram(&state, episode: episode.number, round: &round)
        }
        if rise.opened { reviewPlan(&state, episode: episode, reasons: reasons, round: &round) }
        // While a program runs, caring contacts are its messages, not the plans' one-off ones; a
        // client who declined them gets none.
        let noOneOffs = (state.program?.isRunning(at: round.now) ?? false) || declinesCaringContacts(state)
        let lines = plans.lines(for: episode.planned(in: policy)).filter {
            !(noOneOffs && $0.template.kind == .caringContact)
        }
        guard !lines.isEmpty else { return }
        let inPlace = Self.alreadyInPlace(
            state.replay.protective(since: rise.at.adding(TimeSpan(microseconds: -Self.inPlaceWindow.microseconds))))
        for line in lines {
            var task = briefed(
                PlannedTask(
                    client: state.client, episode: episode.number, slot: line.slot, kind: line.template.kind,
                    tier: episode.tier, route: line.template.route, instruction: line.template.instruction + inPlace,
                    deliverAt: round.now.adding(line.occurrence.deliver), due: round.now.adding(line.occurrence.due)),
                state: state)
            task.domain = line.domain
            guard state.cursor.planned.insert(task.id).inserted else { continue }
            state.openTasks.removeAll { open in
                guard let key = open.key, key.isSameJob(as: line.key), open.id != task.id else { return false }
                round.effects.append(
                    .superseded(task: open.id, by: episode.tier, reason: "superseded by \(episode.tier.rawValue)"))
                return true
            }
            round.effects.append(.planned(task, score: rise.score, reasons: reasons))
            state.openTasks.append(OpenTask(task, key: line.key, at: round.now))
        }
    }

    /// A new screening result ends the hold of the open episode's tier: the clinician's newer
    /// assessment, not the hold, tells the tier from now on (C-SSRS: the newest screening stands).
    func release(_ state: inout ClientState, at: Timestamp, round: inout Round) {
        guard var open = state.cursor.open, open.heldUntil > at else { return }
        open.heldUntil = at
        state.cursor.open = open
        round.effects.append(.episode(.released(open)))
    }

    /// Two screenings within a day that disagree (the new result calls for a lower tier than one it
    /// replaced) get the policy's reconcile task: a clinician reconciles them with the client.
    func reconcile(
        _ ended: [Firing], with checkIn: CheckIn, score: RiskScore, state: inout ClientState, round: inout Round
    ) {
        guard let template = plans.reconcile else { return }
        let dayBefore = checkIn.at.adding(.hours(-24))
        let conflicting = ended.filter { $0.at >= dayBefore && $0.at < checkIn.at && ($0.floor ?? .low) > score.tier }
        guard !conflicting.isEmpty, let occurrence = template.schedule.occurrences.first else { return }
        let task = briefed(
            PlannedTask(
                client: state.client, episode: state.cursor.open?.number ?? state.cursor.lastNumber,
                slot: "reconcile.\(checkIn.id)", kind: template.kind,
                tier: conflicting.compactMap(\.floor).max() ?? .low, route: template.route,
                instruction: template.instruction, deliverAt: round.now.adding(occurrence.deliver),
                due: round.now.adding(occurrence.due)),
            state: state)
        guard state.cursor.planned.insert(task.id).inserted else { return }
        round.effects.append(
            .planned(task, score: score.score, reasons: TaskReason.of(conflicting, ruleSet: ruleSet)))
        state.openTasks.append(OpenTask(task, key: nil, at: round.now))
    }

    /// How far back a protective factor reported counts as already in place for a task.
    static let inPlaceWindow = TimeSpan.hours(72)

    /// What a task's instruction adds about the protective factors reported lately (codes, never
    /// free text): the team builds on what is done (a reviewed safety plan, naloxone on hand); the
    /// risk and the tasks stay what they are.
    static func alreadyInPlace(_ codes: [String]) -> String {
        codes.isEmpty ? "" : " Already in place, as reported in the past 72 h: \(codes.joined(separator: ", "))."
    }

    /// The sources whose contacts answer a task routed to each role: a peer's call does not stand in
    /// for a clinician's assessment. A task routed elsewhere (a team's own route) takes any contact.
    static let roleSources: [String: Set<CheckIn.Source>] = [
        "peer": [.peer], "counselor": [.counselor, .clinician], "crisis_clinician": [.clinician, .counselor],
        "case_manager": [.caseManager], "supervisor": [.counselor, .clinician],
    ]

    /// Whether a contact from `source` may answer a task routed to `route` without naming it.
    static func role(_ route: String?, mayBeAnsweredBy source: CheckIn.Source) -> Bool {
        guard let route, let sources = roleSources[route] else { return true }
        return sources.contains(source)
    }

    /// Plans what is pending and reports when the next silence falls due.
    func finish(_ state: inout ClientState, round: inout Round) -> [Effect] {
        flush(&state, round: &round)
        if !ruleSet.absenceRules.isEmpty { round.effects.append(.absenceDue(state.replay.nextAbsenceDue)) }
        return round.effects
    }
}
