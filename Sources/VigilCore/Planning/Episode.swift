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

/// A client's episode state between evaluations: the open episode, if any, the last number used,
/// and the ids of the tasks the open episode has planned (so a task resolved or cancelled is never
/// planned again while the episode lasts).
public struct EpisodeCursor: Equatable, Sendable {
    public var open: Episode?
    public var lastNumber: Int
    public var planned: Set<String>

    public init(open: Episode? = nil, lastNumber: Int = 0, planned: Set<String> = []) {
        self.open = open
        self.lastNumber = lastNumber
        self.planned = planned
    }
}
