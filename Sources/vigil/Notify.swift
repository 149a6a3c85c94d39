import ArgumentParser
import Foundation
import Glibc
import Logging
import VigilCore
import VigilShell

/// `vigil notify`: the notifier worker.
struct Notify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deliver due tasks from the queue to the team's channels until SIGTERM.",
        discussion: """
            Channels and routes come from the `notifier:` section of the configuration (see the README);
            without one, every task is written to the journal. Runs beside `vigil serve`, on the same state
            directory. --once delivers what is due now and exits. --as-of (with --once) acts as if now
            were that time: it delivers what is due by then and raises the overdue escalations then due,
            for real; leases still follow the real clock.
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Deliver what is due now, wait for those deliveries, then exit.")
    var once = false

    @Option(
        name: .customLong("as-of"),
        help:
            "With --once: act as if now were this RFC 3339 time (tasks due by then are delivered, overdue escalations raised). For drills and tests."
    )
    var asOf: String?

    @Option(help: "Where logs go: auto (the journal under systemd, else stderr), journal or stderr.")
    var log: LogSetup.Target = .auto

    func validate() throws {
        guard asOf == nil || once else { throw ValidationError("--as-of needs --once") }
    }

    func run() throws {
        // A command of an exec channel that exits without reading its stdin must not kill the notifier.
        signal(SIGPIPE, SIG_IGN)
        let signals: SignalFD
        do {
            signals = try SignalFD([SIGTERM, SIGINT])
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.software.rawValue)
        }
        LogSetup.bootstrap(log, level: .info, identifier: "vigil-notifier")
        let logger = Logger(label: "vigil-notifier")
        let config = try options.load()
        let clock: any WallClock = try asOf.map { FixedClock(time: try parseAsOf($0)) } ?? runningClock(logger)
        let notifierConfig: NotifierConfig
        let store: EventStore
        do {
            notifierConfig = try NotifierConfig.load(for: config)
            try DeploymentCheck.notifier(notifierConfig, origin: config.origin)
            // The same private state directory as the daemon's, whichever starts first.
            try DirectorySafety.create(config.state, mode: 0o700)
            try DirectorySafety.check(config.state)
            SystemdNotifier().openingStore(within: .minutes(30))
            store = try EventStore(path: config.databasePath, stages: [], cacheKiB: 8_192)
        } catch let error as any ExitStatusProviding {
            throw fail(error)
        }
        let notifier = Notifier(config: notifierConfig, store: store, clock: clock, logger: logger)
        let systemd = SystemdNotifier()
        let watchdog = systemd.watchdogPingInterval()
        let stop = StopFlag()
        systemd.ready(status: "delivering to \(notifierConfig.channels.keys.sorted().joined(separator: ", "))")
        logger.log(
            .notice, .started, "vigil notifier started",
            ["channels": "\(notifierConfig.channels.keys.sorted().joined(separator: ","))", "state": "\(config.state)"])
        let outcome = waitFor {
            try await notifier.run(
                once: once,
                shouldStop: {
                    while let signal = signals.next() {
                        if signal == SIGTERM || signal == SIGINT { stop.set() }
                    }
                    return stop.isSet
                },
                heartbeat: { counts in
                    if let watchdog, stop.pingDue(every: watchdog) {
                        systemd.watchdog()
                        systemd.status(
                            "\(counts.delivered) delivered, \(counts.retried) retries, \(counts.dead) dead, \(counts.overdue) overdue, \(counts.inFlight) in flight"
                        )
                    }
                })
        }
        systemd.stopping()
        let counts = notifier.tally.counts
        logger.log(
            .notice, .stopping, "vigil notifier stopping",
            [
                "delivered": "\(counts.delivered)", "retried": "\(counts.retried)", "dead": "\(counts.dead)",
                "overdue": "\(counts.overdue)",
            ])
        if case .failure(let error) = outcome {
            printError("\(error)")
            throw ExitCode((error as? any ExitStatusProviding)?.exitStatus.rawValue ?? ExitStatus.software.rawValue)
        }
    }
}

/// A clock stopped at one instant (`--as-of`).
struct FixedClock: WallClock {
    let time: Timestamp
    func now() -> Timestamp { time }
}

/// Set once by a signal; also spaces the watchdog pings.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var lastPing: Int64 = 0

    var isSet: Bool { lock.withLock { stopped } }
    func set() { lock.withLock { stopped = true } }

    func pingDue(every interval: TimeSpan) -> Bool {
        let now = SystemClock.monotonicMicroseconds()
        return lock.withLock {
            guard now - lastPing >= interval.microseconds else { return false }
            lastPing = now
            return true
        }
    }
}

/// Runs async work from a synchronous command and waits for its result.
func waitFor(_ body: @escaping @Sendable () async throws -> Void) -> Result<Void, any Error> {
    let done = DispatchSemaphore(value: 0)
    let result = ResultBox()
    Task {
        do {
            try await body()
        } catch {
            result.set(.failure(error))
        }
        done.signal()
    }
    done.wait()
    return result.value
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<Void, any Error> = .success(())
    var value: Result<Void, any Error> { lock.withLock { stored } }
    func set(_ value: Result<Void, any Error>) { lock.withLock { stored = value } }
}
