/// A client's run of elevated risk: opened when its tier first reaches a planned tier, raised when the
/// tier rises, closed when the score has decayed back to `low`. While it is open, further firings at
/// or below its tier add no tasks, so a crisis team is never paged twice for the same rise.
public struct Episode: Equatable, Sendable {
    /// 1 for the client's first episode, then 2, … (part of every task id).
    public var number: Int
    /// The highest tier planned for so far.
    public var tier: Tier
    public var openedAt: Timestamp

    public init(number: Int, tier: Tier, openedAt: Timestamp) {
        self.number = number
        self.tier = tier
        self.openedAt = openedAt
    }
}

/// A task decided by the planner, with its deterministic id.
public struct PlannedTask: Equatable, Sendable {
    public var id: String
    public var client: String
    public var episode: Int
    public var slot: String
    public var kind: TaskKind
    public var tier: Tier
    public var route: String
    public var instruction: String
    public var deliverAt: Timestamp
    public var due: Timestamp

    /// A task whose id is derived from its client, episode and slot.
    public init(
        client: String, episode: Int, slot: String, kind: TaskKind, tier: Tier, route: String, instruction: String,
        deliverAt: Timestamp, due: Timestamp
    ) {
        self.id = Self.id(client: client, episode: episode, slot: slot)
        self.client = client
        self.episode = episode
        self.slot = slot
        self.kind = kind
        self.tier = tier
        self.route = route
        self.instruction = instruction
        self.deliverAt = deliverAt
        self.due = due
    }

    /// `t-` and 16 hex digits of SHA-256 over (client, episode, slot): the same task always gets
    /// the same id, so a replay or a restart can never enqueue it twice under another name.
    public static func id(client: String, episode: Int, slot: String) -> String {
        "t-" + sha256Hex(Array("\(client)\u{0}\(episode)\u{0}\(slot)".utf8)).prefix(16)
    }
}

/// A client's episode state between evaluations: the open episode, if any, and the last number used.
public struct EpisodeCursor: Equatable, Sendable {
    public var open: Episode?
    public var lastNumber: Int

    public init(open: Episode? = nil, lastNumber: Int = 0) {
        self.open = open
        self.lastNumber = lastNumber
    }
}

/// What one evaluation did to a client's episode.
public struct EpisodeStep: Equatable, Sendable {
    /// The episode that ended (its score decayed to `low`), if any.
    public var closed: Episode?
    /// The episode opened or raised by this evaluation, with its new tier, if any.
    public var changed: Episode?
    /// True when `changed` was opened by this evaluation (rather than raised).
    public var opened: Bool
    /// The tasks the change calls for (empty when nothing rose).
    public var tasks: [PlannedTask]
}

/// Turns tier changes into tasks: the pure heart of response planning.
public struct EpisodePlanner: Sendable {
    public let plans: ResponsePlans

    public init(plans: ResponsePlans) { self.plans = plans }

    /// Steps `cursor` for one evaluation of `client` detected at `now`:
    /// - `before`: the tier just before the evaluated event, after decay: `low` means the open
    ///   episode ended in the quiet before it (scores only decay between evaluations);
    /// - `after`: the tier the evaluation produced.
    /// An episode opens at a rise above `low` and plans that tier; a rise above its tier plans the
    /// higher tier too (lower tiers' tasks stay); a fall to `low` closes it.
    public func step(
        _ cursor: inout EpisodeCursor, client: String, before: Tier, after: Tier, at now: Timestamp
    ) -> EpisodeStep {
        var step = EpisodeStep(closed: nil, changed: nil, opened: false, tasks: [])
        if let open = cursor.open, before == .low || after == .low {
            step.closed = open
            cursor.open = nil
        }
        guard after > .low else { return step }
        if var open = cursor.open {
            guard after > open.tier else { return step }
            open.tier = after
            cursor.open = open
        } else {
            cursor.lastNumber += 1
            cursor.open = Episode(number: cursor.lastNumber, tier: after, openedAt: now)
            step.opened = true
        }
        guard let episode = cursor.open else { return step }
        step.changed = episode
        step.tasks = plans.tasks(for: after).map { slot, template, occurrence in
            PlannedTask(
                client: client, episode: episode.number, slot: slot, kind: template.kind, tier: after,
                route: template.route,
                instruction: template.instruction, deliverAt: now.adding(occurrence.deliver),
                due: now.adding(occurrence.due))
        }
        return step
    }
}
