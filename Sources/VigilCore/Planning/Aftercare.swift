/// What `policy.yaml` says happens around and after a crisis, beside the tier plans: the
/// caring-contact program, how follow-up ends, the step-down watch, the recovery-plan review, and
/// the local time the support network's hours are read in. Each part is optional (nil: off).
public struct Aftercare: Equatable, Sendable {
    public var program: CaringProgramPolicy?
    public var followUp: FollowUpPolicy?
    public var watch: WatchPolicy?
    public var planReview: PlanReviewPolicy?
    /// The team's local time as an offset from UTC: support entries' `hours` are read in it.
    public var utcOffset: TimeSpan

    public init(
        program: CaringProgramPolicy? = nil, followUp: FollowUpPolicy? = nil, watch: WatchPolicy? = nil,
        planReview: PlanReviewPolicy? = nil, utcOffset: TimeSpan = .seconds(0)
    ) {
        self.program = program
        self.followUp = followUp
        self.watch = watch
        self.planReview = planReview
        self.utcOffset = utcOffset
    }
}

/// A program of caring contacts (Motto; Comtois et al. 2019): brief, non-demanding messages on a
/// schedule over a year, whatever the client replies, started by a crisis and stopped only by an
/// opt-out.
public struct CaringProgramPolicy: Equatable, Sendable {
    /// When each message is delivered, after the crisis that started (or extended) the program.
    public var schedule: [TimeSpan]
    /// An episode reaching this tier starts the program.
    public var startTier: Tier
    /// A check-in of one of these kinds starts the program (an ED visit, a discharge, an overdose).
    public var startKinds: Set<CheckIn.Kind>
    /// How long after its delivery a message is due.
    public var due: TimeSpan
    public var route: String
    public var instruction: String

    public init(
        schedule: [TimeSpan], startTier: Tier, startKinds: Set<CheckIn.Kind>, due: TimeSpan, route: String,
        instruction: String
    ) {
        self.schedule = schedule.sorted()
        self.startTier = startTier
        self.startKinds = startKinds
        self.due = due
        self.route = route
        self.instruction = instruction
    }
}

/// How a follow-up series ends (988 follow-up practice): after `maxAttempts` missed attempts
/// (`no_answer`, `left_message`) it ends as unreachable and the supervisors get one task; each missed
/// attempt before that moves its due time `retryAfter` on.
public struct FollowUpPolicy: Equatable, Sendable {
    public var maxAttempts: Int
    public var retryAfter: TimeSpan
    /// The supervisors' task when a follow-up ends unreachable.
    public var unreachable: TaskTemplate

    public init(maxAttempts: Int, retryAfter: TimeSpan, unreachable: TaskTemplate) {
        self.maxAttempts = maxAttempts
        self.retryAfter = retryAfter
        self.unreachable = unreachable
    }
}

/// The step-down watch (VA High-Risk Flag research: risk stays elevated after a flag is lifted):
/// for `period` after an episode at `high` or above closes, the client's tier thresholds are lowered
/// by the scoring policy's `watchLowering`, so a second crisis is caught earlier.
public struct WatchPolicy: Equatable, Sendable {
    public var period: TimeSpan

    public init(period: TimeSpan) { self.period = period }
}

/// The task a client with no recovery plan, or one older than `maxAge`, gets when an episode opens:
/// a counselor or peer makes or reviews the plan with them. A `plan` check-in resolves it.
public struct PlanReviewPolicy: Equatable, Sendable {
    public var maxAge: TimeSpan
    public var template: TaskTemplate

    public init(maxAge: TimeSpan, template: TaskTemplate) {
        self.maxAge = maxAge
        self.template = template
    }
}
