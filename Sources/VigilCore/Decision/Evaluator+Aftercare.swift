/// What happens around and after a crisis (`Aftercare`): the caring-contact program, contacts that
/// end a follow-up or a program, the recovery plan's review, and what a task carries of the plan.
extension Evaluator {
    // MARK: - Contacts

    /// Applies a person's `take` or `ack`: an ack ends the task here (no contact or rise of this
    /// round acts on it again); whether the store's task is the client's and still open is the
    /// shell's to check.
    func apply(
        _ action: CheckIn.Action, kind: CheckIn.Kind, event: String, to state: inout ClientState, round: inout Round
    ) {
        let resolves = kind == .ack
        if resolves { state.openTasks.removeAll { $0.id == action.task } }
        round.effects.append(.action(TaskAction(event: event, task: action.task, by: action.by, resolves: resolves)))
    }

    /// Applies a contact to the open outreach task it answers: the one it names, else the earliest
    /// due caring contact or follow-up that existed when the contact was made (a program's message
    /// only once delivered: a reply never uses up the messages still to come) and that the
    /// contact's source may answer (`roleSources`). Then what its outcome ends:
    /// - `reached` resolves the task;
    /// - `no_answer` and `left_message` count an attempt: a follow-up is due again `retry_after`
    ///   later, and after `max_attempts` ends unreachable with one task for the supervisors;
    /// - `engaged` (the client attended care) and `declined` end the client's open follow-ups;
    /// - `opted_out` stops the caring-contact program.
    func apply(_ contact: CheckIn.Contact, of checkIn: CheckIn, to state: inout ClientState, round: inout Round) {
        let target: Int?
        if let named = contact.task {
            target = state.openTasks.firstIndex { $0.id == named && $0.kind.isOutreach }
        } else {
            let madeBy = checkIn.at.adding(Self.contactSkew)
            target = state.openTasks.indices
                .filter {
                    let task = state.openTasks[$0]
                    return (task.kind == .caringContact || task.kind == .followUp) && task.createdAt <= madeBy
                        && (!task.isProgramContact || task.deliverAt <= madeBy)
                        && Self.role(task.key?.route, mayBeAnsweredBy: checkIn.source)
                }
                .min { state.openTasks[$0].due < state.openTasks[$1].due }
        }
        let resolved = target != nil && contact.outcome == .reached
        round.effects.append(
            .contact(
                ContactResult(
                    event: checkIn.id, task: target.map { state.openTasks[$0].id }, outcome: contact.outcome,
                    resolved: resolved, by: contact.by)))
        if resolved, let target { state.openTasks.remove(at: target) }
        switch contact.outcome {
        case .reached: break
        case .noAnswer, .leftMessage:
            if let target { missed(target, by: checkIn, state: &state, round: &round) }
        case .engaged, .declined:
            let why = contact.outcome == .engaged ? "the client is engaged in care" : "the client declined follow-up"
            end(&state, round: &round, reason: "follow-up ended: \(why) (contact \(checkIn.id))") {
                $0.kind == .followUp
            }
        case .optedOut:
            stopProgram(&state, round: &round, reason: "opted out (contact \(checkIn.id))")
        }
    }

    /// A missed attempt on the open task at `index`: a follow-up is due again later, or, at the
    /// policy's maximum, ends unreachable and the supervisors get one task for the episode.
    func missed(_ index: Int, by checkIn: CheckIn, state: inout ClientState, round: inout Round) {
        state.openTasks[index].attempts += 1
        let task = state.openTasks[index]
        guard task.kind == .followUp, let policy = plans.aftercare.followUp else { return }
        guard task.attempts >= policy.maxAttempts else {
            let due = max(task.due, round.now.adding(policy.retryAfter))
            state.openTasks[index].due = due
            round.effects.append(.rescheduled(task: task.id, due: due))
            return
        }
        state.openTasks.remove(at: index)
        round.effects.append(
            .ended(
                task: task.id,
                .cancelled(reason: "unreachable after \(task.attempts) attempts (contact \(checkIn.id))")))
        let template = policy.unreachable
        plan(
            template, slot: "unreachable", tier: state.cursor.open?.tier ?? .moderate, deliverIn: .seconds(0),
            dueIn: template.schedule.occurrences.first?.due ?? .seconds(0), state: &state, round: &round)
    }

    /// Ends every open task `matching`, with `reason`.
    func end(
        _ state: inout ClientState, round: inout Round, reason: String, matching: (OpenTask) -> Bool
    ) {
        state.openTasks.removeAll { task in
            guard matching(task) else { return false }
            round.effects.append(.ended(task: task.id, .cancelled(reason: reason)))
            return true
        }
    }

    // MARK: - The recovery plan

    /// A `plan` check-in that is the client's newest plan resolves the open plan reviews, and a plan
    /// that declines caring contacts stops the program.
    func apply(_ plan: RecoveryPlan, of checkIn: CheckIn, to state: inout ClientState, round: inout Round) {
        guard state.replay.history.plans.last?.at == checkIn.at else { return }
        state.openTasks.removeAll { task in
            guard task.kind == .planReview else { return false }
            round.effects.append(.ended(task: task.id, .resolved(by: "plan \(checkIn.id)")))
            return true
        }
        if !plan.caringContacts.allowsContacts {
            stopProgram(
                &state, round: &round, reason: "the client's plan declines caring contacts (plan \(checkIn.id))")
        }
    }

    /// When an episode opens, a client with no plan, or one older than the policy allows, gets a task
    /// to make or review it.
    func reviewPlan(_ state: inout ClientState, episode: Episode, reasons: [TaskReason], round: inout Round) {
        guard let review = plans.aftercare.planReview else { return }
        let age = state.replay.history.plans.last.map { round.now.microseconds - $0.at.microseconds }
        if let age, age <= review.maxAge.microseconds { return }
        let occurrence = review.template.schedule.occurrences.first
        plan(
            review.template, slot: "plan_review", tier: episode.tier, deliverIn: occurrence?.deliver ?? .seconds(0),
            dueIn: occurrence?.due ?? .seconds(0), reasons: reasons, state: &state, round: &round)
    }

    /// `task` with what it carries of the client's plan in force (nil without one).
    func briefed(_ task: PlannedTask, state: ClientState) -> PlannedTask {
        guard let plan = state.replay.history.plans.last else { return task }
        var task = task
        task.plan = PlanBrief(
            plan.plan, observedAt: plan.at, kind: task.kind, route: task.route, deliverAt: task.deliverAt,
            utcOffset: plans.aftercare.utcOffset)
        return task
    }

    /// Plans one task from `template` in the client's current episode, once, with `reasons` (the
    /// crisis behind it; none for the supervisors' task about an unreachable client) and the
    /// client's score now (`score`, when the caller has it).
    func plan(
        _ template: TaskTemplate, slot: String, tier: Tier, deliverIn: TimeSpan, dueIn: TimeSpan,
        reasons: [TaskReason] = [], score: Double? = nil, state: inout ClientState, round: inout Round
    ) {
        let task = briefed(
            PlannedTask(
                client: state.client, episode: state.cursor.open?.number ?? state.cursor.lastNumber, slot: slot,
                kind: template.kind, tier: tier, route: template.route,
                instruction: template.instruction,
                deliverAt: round.now.adding(deliverIn), due: round.now.adding(dueIn)),
            state: state)
        // A program's messages are planned once by construction (each index once per program), so
        // their ids stay out of the episode's planned set, which the daemon caches per client.
        if !slot.hasPrefix(CaringProgram.slotPrefix) {
            guard state.cursor.planned.insert(task.id).inserted else { return }
        }
        let score = score ?? self.score(of: state, at: round.now).score
        round.effects.append(.planned(task, score: score, reasons: reasons))
        state.openTasks.append(OpenTask(task, key: nil, at: round.now))
    }

    // MARK: - The caring-contact program

    /// Starts the client's caring-contact program, or extends the running one: the schedule counted
    /// from now, for the messages it would send after the running program's last. `episode` is the
    /// episode whose rise calls for it (nil: a check-in's kind, an ED visit, a discharge or an
    /// overdose, each a crisis of its own); a second rise of the episode that last anchored the
    /// program extends nothing. Not when the client's plan declines caring contacts, nor after a
    /// stop unless a newer plan consents. A message carries no reasons: the person who sends a
    /// caring message needs no clinical detail (the minimum necessary).
    func startProgram(_ state: inout ClientState, episode: Int? = nil, round: inout Round) {
        guard let policy = plans.aftercare.program, !declinesCaringContacts(state) else { return }
        let inForce = state.replay.history.plans.last
        let times = policy.schedule.map { round.now.adding($0) }
        var program: CaringProgram
        let change: (CaringProgram) -> ProgramChange
        if var running = state.program, running.isRunning(at: round.now) {
            guard let last = times.last, last > running.lastDelivery, episode == nil || episode != running.episode
            else { return }
            running.anchoredAt = round.now
            running.episode = episode ?? 0
            program = running
            change = ProgramChange.extended
        } else {
            program = CaringProgram(
                number: (state.program?.number ?? 0) + 1, startedAt: round.now, anchoredAt: round.now,
                episode: episode ?? 0, contacts: 0, lastDelivery: round.now)
            change = ProgramChange.started
        }
        let channel = inForce.map { " By \($0.plan.caringContacts.channel.rawValue), as the client chose." } ?? ""
        let template = TaskTemplate(
            kind: .caringContact, schedule: .now, route: policy.route, instruction: policy.instruction + channel)
        let tier = state.cursor.open?.tier ?? policy.startTier
        let score = score(of: state, at: round.now).score
        for time in times where program.contacts == 0 || time > program.lastDelivery {
            program.contacts += 1
            program.lastDelivery = time
            let offset = TimeSpan(microseconds: time.microseconds - round.now.microseconds)
            plan(
                template, slot: program.slot(program.contacts), tier: tier, deliverIn: offset,
                dueIn: offset.adding(policy.due), score: score, state: &state, round: &round)
        }
        state.program = program
        round.effects.append(.program(change(program)))
        // The plans' one-off caring contacts planned in this round give way to the program's messages.
        let now = round.now
        end(&state, round: &round, reason: "superseded by the caring-contact program") {
            $0.kind == .caringContact && !$0.isProgramContact && $0.createdAt == now
        }
    }

    /// Whether the client declined caring contacts: the plan in force says so, or the last program
    /// was stopped (an opt-out) and no plan observed since consents.
    func declinesCaringContacts(_ state: ClientState) -> Bool {
        let inForce = state.replay.history.plans.last
        if let inForce, !inForce.plan.caringContacts.allowsContacts { return true }
        guard let stopped = state.program?.stoppedAt else { return false }
        return (inForce?.at ?? Timestamp(microseconds: .min)) <= stopped
    }

    /// Stops the running program: its messages not yet sent are cancelled with `reason`.
    func stopProgram(_ state: inout ClientState, round: inout Round, reason: String) {
        guard var program = state.program, program.stoppedAt == nil else { return }
        let stopping = program
        end(&state, round: &round, reason: reason) { stopping.owns(slot: $0.slot) }
        program.stoppedAt = round.now
        program.stopReason = reason
        state.program = program
        round.effects.append(.program(.stopped(program)))
    }
}

extension TimeSpan {
    /// The sum of two spans.
    func adding(_ other: TimeSpan) -> TimeSpan { TimeSpan(microseconds: microseconds + other.microseconds) }
}
