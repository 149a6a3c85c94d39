/// Everything the evaluator needs to know about one client: its rule state (history and firings),
/// its episode, and its open tasks. The shell keeps the first two between transactions (only the
/// daemon changes them) and loads the open tasks afresh for each (people and the notifier change
/// tasks too).
public struct ClientState: Sendable {
    public var client: String
    public var replay: ClientReplay
    public var cursor: EpisodeCursor
    /// The client's open tasks (pending, claimed or delivered) that planning and contacts act on,
    /// oldest first.
    public var openTasks: [OpenTask]
    /// The client's latest caring-contact program, running or not.
    public var program: CaringProgram?

    public init(
        client: String, replay: ClientReplay, cursor: EpisodeCursor = EpisodeCursor(), openTasks: [OpenTask] = [],
        program: CaringProgram? = nil
    ) {
        self.client = client
        self.replay = replay
        self.cursor = cursor
        self.openTasks = openTasks
        self.program = program
    }
}

/// A client's program of caring contacts: its messages are planned as tasks when it starts (and
/// when a new crisis extends it), so it survives restarts as the queue does.
public struct CaringProgram: Equatable, Sendable {
    /// 1 for the client's first program, then 2, … (part of its tasks' slots).
    public var number: Int
    public var startedAt: Timestamp
    /// When the crisis that last started or extended it was detected.
    public var anchoredAt: Timestamp
    /// The episode whose rise last started or extended it (0: a check-in's kind did): a later rise
    /// in the same episode is the same crisis, and extends nothing.
    public var episode: Int
    /// How many messages it has planned.
    public var contacts: Int
    /// When its last message is delivered: after that the program has run its course.
    public var lastDelivery: Timestamp
    /// When, and why, it was stopped (an opt-out, a plan declining caring contacts).
    public var stoppedAt: Timestamp?
    public var stopReason: String?

    public init(
        number: Int, startedAt: Timestamp, anchoredAt: Timestamp, episode: Int, contacts: Int,
        lastDelivery: Timestamp, stoppedAt: Timestamp? = nil, stopReason: String? = nil
    ) {
        self.number = number
        self.startedAt = startedAt
        self.anchoredAt = anchoredAt
        self.episode = episode
        self.contacts = contacts
        self.lastDelivery = lastDelivery
        self.stoppedAt = stoppedAt
        self.stopReason = stopReason
    }

    /// Whether it still has messages to send at `now`.
    public func isRunning(at now: Timestamp) -> Bool { stoppedAt == nil && now <= lastDelivery }

    /// The slot of its `index`th message (1-based): `caring.PROGRAM.INDEX`.
    public func slot(_ index: Int) -> String { "\(Self.slotPrefix)\(number).\(index)" }

    public static let slotPrefix = "caring."

    /// Whether `slot` is one of its messages'.
    public func owns(slot: String) -> Bool { slot.hasPrefix("\(Self.slotPrefix)\(number).") }
}

/// An open task as the evaluator sees it: what a rise may supersede and a contact may answer.
public struct OpenTask: Equatable, Sendable {
    public var id: String
    public var kind: TaskKind
    /// Its plan key, read from its slot; nil for a task no plan wrote (a fallback, a refused crisis).
    public var key: PlanKey?
    public var createdAt: Timestamp
    public var due: Timestamp
    public var slot: String
    public var deliverAt: Timestamp
    /// Contacts that tried to answer it and did not reach the client.
    public var attempts: Int

    public init(
        id: String, kind: TaskKind, key: PlanKey?, createdAt: Timestamp, due: Timestamp, slot: String = "",
        deliverAt: Timestamp? = nil, attempts: Int = 0
    ) {
        self.id = id
        self.kind = kind
        self.key = key
        self.createdAt = createdAt
        self.due = due
        self.slot = slot
        self.deliverAt = deliverAt ?? createdAt
        self.attempts = attempts
    }

    /// The open task a planned task becomes.
    public init(_ task: PlannedTask, key: PlanKey?, at now: Timestamp) {
        self.init(
            id: task.id, kind: task.kind, key: key, createdAt: now, due: task.due, slot: task.slot,
            deliverAt: task.deliverAt)
    }

    /// Whether it is a message of a caring-contact program.
    public var isProgramContact: Bool { slot.hasPrefix(CaringProgram.slotPrefix) }
}
