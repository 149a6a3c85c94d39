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

    public init(
        client: String, replay: ClientReplay, cursor: EpisodeCursor = EpisodeCursor(), openTasks: [OpenTask] = []
    ) {
        self.client = client
        self.replay = replay
        self.cursor = cursor
        self.openTasks = openTasks
    }
}

/// An open task as the evaluator sees it: what a rise may supersede and a contact may answer.
public struct OpenTask: Equatable, Sendable {
    public var id: String
    public var kind: TaskKind
    /// Its plan key, read from its slot; nil for a task no plan wrote (a fallback, a refused crisis).
    public var key: PlanKey?
    public var createdAt: Timestamp
    public var due: Timestamp

    public init(id: String, kind: TaskKind, key: PlanKey?, createdAt: Timestamp, due: Timestamp) {
        self.id = id
        self.kind = kind
        self.key = key
        self.createdAt = createdAt
        self.due = due
    }

    /// The open task a planned task becomes.
    public init(_ task: PlannedTask, key: PlanKey, at now: Timestamp) {
        self.init(id: task.id, kind: task.kind, key: key, createdAt: now, due: task.due)
    }
}
