import VigilCore

/// Runs stored check-ins through a pack's `Evaluator` in memory, as the daemon met them: each
/// commit's check-ins, client by client in arrival order, evaluated at the commit's time; and the
/// silences of `absent:` rules decided at their deadlines, as a timer that never lags would. It
/// writes nothing: what it decided is collected in a `ReplayRun`.
public struct Replayer: Sendable {
    public let evaluator: Evaluator
    /// Whether to keep every evaluation (for `--decisions`); the summary needs only counts.
    public var keepsEvaluations = false

    public init(evaluator: Evaluator) {
        self.evaluator = evaluator
    }

    /// Replays `events` (in commit order), deciding silences due up to `end` (default: the last
    /// commit). `progress` is called with the count of check-ins replayed, every 16,384.
    public func run(_ events: [HistoryEvent], until end: Timestamp? = nil, progress: (Int) -> Void = { _ in })
        -> ReplayRun
    {
        var run = ReplayRun()
        var states: [String: ClientState] = [:]
        var deadlines = DeadlineQueue()
        var start = 0
        while start < events.count {
            let now = events[start].committedAt
            var stop = start
            while stop < events.count, events[stop].committedAt == now { stop += 1 }
            tickDue(by: now, states: &states, deadlines: &deadlines, run: &run)
            for batch in Self.batches(events[start..<stop]) {
                let client = batch[0].checkIn.client
                var state = states.removeValue(forKey: client) ?? evaluator.newClient(client)
                let effects = evaluator.evaluate(&state, checkIns: batch.map(\.checkIn), at: now)
                collect(effects, state: state, batch: batch, at: now, deadlines: &deadlines, run: &run)
                states[client] = state
            }
            if stop / 16_384 > start / 16_384 { progress(stop) }
            start = stop
        }
        if let last = end ?? events.last?.committedAt {
            tickDue(by: last, states: &states, deadlines: &deadlines, run: &run)
        }
        run.clients = states.count
        run.checkIns = events.count
        return run
    }

    /// A commit's check-ins, client by client in order of first appearance (each batch non-empty).
    static func batches(_ commit: ArraySlice<HistoryEvent>) -> [[HistoryEvent]] {
        guard commit.count > 1 else { return [Array(commit)] }
        var positions: [String: Int] = [:]
        var batches: [[HistoryEvent]] = []
        for event in commit {
            if let position = positions[event.checkIn.client] {
                batches[position].append(event)
            } else {
                positions[event.checkIn.client] = batches.count
                batches.append([event])
            }
        }
        return batches
    }

    /// Decides, at each deadline in time order, the silences due by `now`.
    private func tickDue(
        by now: Timestamp, states: inout [String: ClientState], deadlines: inout DeadlineQueue, run: inout ReplayRun
    ) {
        while let (due, client) = deadlines.popDue(by: now) {
            guard var state = states.removeValue(forKey: client) else { continue }
            let effects = evaluator.tick(&state, at: due)
            collect(effects, state: state, batch: [], at: due, deadlines: &deadlines, run: &run)
            states[client] = state
        }
    }

    /// Records what one call of the evaluator decided.
    private func collect(
        _ effects: [Effect], state: ClientState, batch: [HistoryEvent], at now: Timestamp,
        deadlines: inout DeadlineQueue, run: inout ReplayRun
    ) {
        let client = state.client
        // The observations since the last episode change, with their tiers: a rise follows the
        // first of them at its tier (the evaluator plans once per call, after all of them).
        var observations: [(at: Timestamp, tier: Tier)] = []
        for effect in effects {
            switch effect {
            case .evaluated(let index, let fired, _, let score):
                let event = batch[index]
                observations.append((event.checkIn.at, score.tier))
                run.observe(client, tier: score.tier, at: event.checkIn.at)
                for firing in fired { run.fired.append(ReplayRun.Fired(rule: firing.rule, at: firing.at)) }
                if keepsEvaluations {
                    run.evaluations.append(
                        ReplayRun.Evaluation(
                            seq: event.seq, fired: fired.map(\.rule), score: score.score, tier: score.tier))
                }
                if ReplayRun.Outcome.kinds.contains(event.checkIn.kind) {
                    run.outcomes.append(
                        ReplayRun.Outcome(client: client, kind: event.checkIn.kind, at: event.checkIn.at))
                }
            case .silence(let decision):
                guard decision.fired else { continue }
                observations.append((decision.firing.at, decision.score.tier))
                run.observe(client, tier: decision.score.tier, at: decision.firing.at)
                run.fired.append(ReplayRun.Fired(rule: decision.firing.rule, at: decision.firing.at))
            case .episode(let change):
                defer { observations = [] }
                switch change {
                case .opened(let episode), .raised(let episode):
                    let observed = (observations.first { $0.tier >= episode.tier } ?? observations.last)?.at ?? now
                    let opened = change == .opened(episode)
                    let before = opened ? [:] : run.openDomains[client] ?? [:]
                    run.openDomains[client] = episode.domains
                    run.escalations.append(
                        ReplayRun.Escalation(
                            client: client, episode: episode.number, tier: episode.tier, opened: opened,
                            detectedAt: now, observedAt: observed,
                            decisive: decisive(state: state, tier: episode.tier, at: observed),
                            domains: episode.domains.filter { $0.value > before[$0.key] ?? .low }.keys.sorted()))
                case .closed(let episode):
                    run.openDomains[client] = nil
                    run.closed.append(ReplayRun.Closed(client: client, episode: episode.number, at: now))
                case .released:
                    continue
                }
            case .planned(let task, _, _):
                run.tasks.append(ReplayRun.Task(task: task, createdAt: now))
            case .superseded(let task, _, _):
                run.superseded.append(task)
            case .ended(let task, .cancelled):
                run.superseded.append(task)
            case .contact, .action, .ended, .rescheduled, .program:
                continue
            case .absenceDue(let due):
                deadlines.set(client, due: due)
            }
        }
    }

    /// The rules whose active firings the rise to `tier` needed: without them the client's score
    /// (the core's `RiskScore` of the other firings, floors included) stays below `tier`.
    private func decisive(state: ClientState, tier: Tier, at time: Timestamp) -> [String] {
        let active = state.replay.activeFirings(at: time)
        let rules = Set(active.map(\.rule))
        return rules.sorted().filter { rule in
            let others = active.lazy.filter { $0.rule != rule }.map(\.contribution)
            return RiskScore(contributions: others, at: time, policy: evaluator.policy).tier < tier
        }
    }
}

/// What a replay decided, in memory.
public struct ReplayRun: Sendable {
    /// A rule firing (of a check-in or a silence), at its observation time.
    public struct Fired: Sendable {
        public var rule: String
        public var at: Timestamp
    }

    /// An episode opened or raised: detected at the commit (or deadline) `detectedAt`, following
    /// the observation at `observedAt`.
    public struct Escalation: Sendable {
        public var client: String
        public var episode: Int
        public var tier: Tier
        public var opened: Bool
        public var detectedAt: Timestamp
        public var observedAt: Timestamp
        public var decisive: [String]
        /// The risk domains whose tier rose in it.
        public var domains: [String]
    }

    public struct Closed: Sendable {
        public var client: String
        public var episode: Int
        public var at: Timestamp
    }

    public struct Task: Sendable {
        public var task: PlannedTask
        public var createdAt: Timestamp
    }

    public struct Evaluation: Sendable {
        public var seq: Int64
        public var fired: [String]
        public var score: Double
        public var tier: Tier
    }

    /// An overdose, ED visit or crisis call in the history.
    public struct Outcome: Sendable {
        public static let kinds: Set<CheckIn.Kind> = [.overdose, .edVisit, .crisisCall]
        public var client: String
        public var kind: CheckIn.Kind
        public var at: Timestamp
    }

    public var checkIns = 0
    public var clients = 0
    public var fired: [Fired] = []
    public var escalations: [Escalation] = []
    public var closed: [Closed] = []
    public var tasks: [Task] = []
    public var superseded: [String] = []
    /// Each client's open episode's domain tiers as last planned (to tell which domains a rise raised).
    var openDomains: [String: [String: Tier]] = [:]
    public var evaluations: [Evaluation] = []
    public var outcomes: [Outcome] = []
    /// Each time a client's evaluated tier rose from low to moderate or above, by client.
    public var elevations: [String: [Timestamp]] = [:]
    /// Each client's tier at its latest evaluation.
    var tiers: [String: Tier] = [:]

    /// Notes a client's tier at an observation (a check-in or a fired silence).
    mutating func observe(_ client: String, tier: Tier, at time: Timestamp) {
        if (tiers[client] ?? .low) == .low, tier >= .moderate { elevations[client, default: []].append(time) }
        tiers[client] = tier
    }
}

/// Clients by their next absence deadline, earliest first (a binary heap; a client's older entry
/// is skipped once a newer deadline replaces it).
struct DeadlineQueue {
    private var heap: [(due: Timestamp, client: String)] = []
    private var current: [String: Timestamp] = [:]

    mutating func set(_ client: String, due: Timestamp?) {
        current[client] = due
        guard let due else { return }
        heap.append((due, client))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The earliest current deadline at or before `now`, removed.
    mutating func popDue(by now: Timestamp) -> (Timestamp, String)? {
        while let top = heap.first, top.due <= now {
            removeTop()
            if current[top.client] == top.due {
                current[top.client] = nil
                return (top.due, top.client)
            }
        }
        return nil
    }

    private mutating func removeTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
