/// One client's check-ins and checkpoints run through the `Evaluator` as the daemon would meet them:
/// each batch detected at its first check-in's time, and the absence timer ticking at every
/// checkpoint. What `vigil rules test` checks its expectations against.
public struct Timeline: Sendable {
    public let evaluator: Evaluator
    public private(set) var state: ClientState
    /// Every task planned so far, by id (to describe the ones a rise supersedes).
    var tasks: [String: PlannedTask] = [:]

    public init(evaluator: Evaluator, client: String) {
        self.evaluator = evaluator
        self.state = evaluator.newClient(client)
    }

    /// What the client looked like at a checkpoint, and what the batches detected then (and the tick)
    /// decided.
    public struct Observation: Sendable {
        public var at: Timestamp
        public var active: Set<String>
        public var score: RiskScore
        public var planned: [PlannedTask] = []
        /// The tasks superseded, with the tier that replaced them.
        public var superseded: [(task: PlannedTask, by: Tier)] = []
        /// The tasks that ended otherwise (resolved by a plan, unreachable, ended by the client).
        public var ended: [(task: PlannedTask, end: TaskEnd)] = []
    }

    /// Runs `batches` (each a group of check-ins that arrive together, in arrival order) and the
    /// `checkpoints` in time order: a checkpoint is observed once every batch listed before the
    /// first batch observed after it has run. Returns one observation per checkpoint, in the order
    /// the checkpoints were given.
    public mutating func run(batches: [[CheckIn]], checkpoints: [Timestamp]) -> [Observation] {
        var observations: [Timestamp: Observation] = [:]
        var pending = checkpoints.sorted()
        var decided: [Timestamp: [Effect]] = [:]
        func observe(upTo limit: Timestamp?) {
            while let next = pending.first, limit.map({ next < $0 }) ?? true {
                pending.removeFirst()
                decided[next, default: []] += remembered(evaluator.tick(&state, at: next))
                observations[next] = observation(at: next, effects: decided[next] ?? [])
            }
        }
        for batch in batches {
            guard let first = batch.first else { continue }
            observe(upTo: first.at)
            decided[first.at, default: []] += remembered(evaluator.evaluate(&state, checkIns: batch, at: first.at))
        }
        observe(upTo: nil)
        return checkpoints.map { observations[$0] ?? observation(at: $0, effects: []) }
    }

    /// `effects`, after remembering the tasks they plan.
    mutating func remembered(_ effects: [Effect]) -> [Effect] {
        for case .planned(let task, _, _) in effects { tasks[task.id] = task }
        return effects
    }

    func observation(at: Timestamp, effects: [Effect]) -> Observation {
        var observation = Observation(
            at: at, active: Set(state.replay.activeFirings(at: at).map(\.rule)),
            score: evaluator.score(of: state, at: at))
        for effect in effects {
            switch effect {
            case .planned(let task, _, _):
                observation.planned.append(task)
            case .superseded(let id, let tier, _):
                if let task = tasks[id] { observation.superseded.append((task, tier)) }
            case .ended(let id, let end):
                if let task = tasks[id] { observation.ended.append((task, end)) }
            default: break
            }
        }
        return observation
    }
}
