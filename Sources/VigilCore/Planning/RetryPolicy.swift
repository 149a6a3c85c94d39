/// When a failed delivery is tried again: exponential backoff with jitter, up to a maximum age
/// counted from the first attempt, after which the task is dead.
public struct RetryPolicy: Equatable, Sendable {
    /// The wait after the first failure.
    public var initial: TimeSpan
    /// The longest wait between two attempts.
    public var longest: TimeSpan
    /// How long after the first attempt a task may still be retried.
    public var maxAge: TimeSpan

    public init(initial: TimeSpan, longest: TimeSpan, maxAge: TimeSpan) {
        self.initial = initial
        self.longest = longest
        self.maxAge = maxAge
    }

    /// When to try again after failed attempt number `attempts` (1 for the first), or nil when the
    /// task has aged out. `jitter` in 0..<1 (random in the shell) spreads retries by ±20 %, so a
    /// channel that comes back is not hit by every task at once.
    public func nextAttempt(after attempts: Int, firstAttempt: Timestamp, now: Timestamp, jitter: Double) -> Timestamp?
    {
        let doublings = min(max(attempts - 1, 0), 40)
        let base = min(Double(initial.microseconds) * Double(1 << min(doublings, 40)), Double(longest.microseconds))
        let wait = Int64(base * (0.8 + 0.4 * min(max(jitter, 0), 1)))
        let next = now.adding(TimeSpan(microseconds: wait))
        guard next.microseconds - firstAttempt.microseconds <= maxAge.microseconds else { return nil }
        return next
    }
}
