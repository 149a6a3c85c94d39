import VigilCore

extension RetryPolicy {
    /// How the daemon and the notifier retry a store they cannot write (disk full, read-only file
    /// system): after 1 s, doubling, at most 30 s apart, for as long as the outage lasts.
    public static let storeOutage = RetryPolicy(initial: .seconds(1), longest: .seconds(30), maxAge: .longest)

    /// The jittered wait after failed attempt number `attempts`, for a retry that never gives up.
    public func delay(after attempts: Int) -> TimeSpan {
        let start = Timestamp(microseconds: 0)
        let next =
            nextAttempt(after: attempts, firstAttempt: start, now: start, jitter: .random(in: 0..<1))
            ?? start.adding(longest)
        return TimeSpan(microseconds: next.microseconds)
    }
}
