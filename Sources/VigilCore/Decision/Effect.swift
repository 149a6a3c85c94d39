/// What the evaluator decided, as values: the shell writes each into the store in the transaction
/// of the check-ins (or clock tick) that caused it, and logs it once that commits.
public enum Effect: Sendable {
    /// A check-in was evaluated: the rules it fired, the firings that stopped counting because of it
    /// (see `ClientReplay.Ingested`), and the client's score and tier at its time. `checkIn` is its
    /// index in the evaluated input.
    case evaluated(checkIn: Int, fired: [Firing], ended: [Firing], score: RiskScore)
    /// A silence of an `absent:` rule was decided (fired or not).
    case silence(SilenceDecision)
    /// An episode opened, rose to a higher tier, or closed.
    case episode(EpisodeChange)
    /// A task the response plan calls for, with the score that raised it and why.
    case planned(PlannedTask, score: Double, reasons: [TaskReason])
    /// An open task that a higher tier's task with the same key replaces (cancelled, kept as history).
    case superseded(task: String, by: Tier, reason: String)
    /// A person took or acknowledged one of the client's tasks (`kind: take` or `ack`).
    case action(TaskAction)
    /// A `contact` check-in answered an open outreach task (`task` nil: there was none to answer).
    case contact(ContactResult)
    /// An open task ended other than by a rise: resolved (a plan review by a `plan` check-in) or
    /// cancelled (a follow-up unreachable, a series the client ended, an opt-out), with why.
    case ended(task: String, TaskEnd)
    /// An open follow-up whose contact attempt missed the client: due again later.
    case rescheduled(task: String, due: Timestamp)
    /// The client's caring-contact program started, was extended or stopped.
    case program(ProgramChange)
    /// When the client's next silence of an `absent:` rule falls due (nil: none awaited). Only with
    /// a rule set that has such rules.
    case absenceDue(Timestamp?)
}

/// How an episode changed.
public enum EpisodeChange: Equatable, Sendable {
    case opened(Episode)
    case raised(Episode)
    case closed(Episode)
    /// A new screening result released the tier the episode held (it now follows the score).
    case released(Episode)

    public var episode: Episode {
        switch self {
        case .opened(let episode), .raised(let episode), .closed(let episode), .released(let episode):
            return episode
        }
    }
}

/// A contact applied to the client's open outreach.
public struct ContactResult: Equatable, Sendable {
    /// The contact check-in's id.
    public var event: String
    /// The task it answered, if any.
    public var task: String?
    public var outcome: CheckIn.Contact.Outcome
    /// True when it resolved the task (`reached`); otherwise it counts as an attempt.
    public var resolved: Bool
    /// Who made the contact, when the check-in says.
    public var by: String?
}

/// A person's act on a task, from a `take` or `ack` check-in. The shell applies it to the task if it
/// is the client's and still open (an ack also resolves a dead task); otherwise it is kept as the
/// event only.
public struct TaskAction: Equatable, Sendable {
    /// The check-in's id.
    public var event: String
    public var task: String
    public var by: String
    /// True for `ack` (resolve), false for `take` (record who is on it).
    public var resolves: Bool
}

/// How an open task ended.
public enum TaskEnd: Equatable, Sendable {
    /// Done, by what (`plan EVENT`).
    case resolved(by: String)
    /// Withdrawn, with the reason (codes and ids only: never free text).
    case cancelled(reason: String)
}

/// How a caring-contact program changed.
public enum ProgramChange: Equatable, Sendable {
    case started(CaringProgram)
    case extended(CaringProgram)
    case stopped(CaringProgram)

    public var program: CaringProgram {
        switch self {
        case .started(let program), .extended(let program), .stopped(let program): return program
        }
    }
}
