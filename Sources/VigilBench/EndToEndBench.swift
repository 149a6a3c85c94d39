import AsyncHTTPClient
import Foundation
import Glibc
import VigilCore
import VigilShell

/// `vigil bench e2e`: the whole path under sustained load. A real `vigil serve` and `vigil notify`
/// (child processes of this binary) on a throwaway spool and store; check-ins submitted at a fixed
/// rate the way `vigil submit` writes them, a share of them raising a new client to imminent; the
/// notifier delivering every task to a webhook receiver on loopback. Measured: events/s, tasks
/// delivered/s, and the latency from spool drop to delivery of each escalation. Floor, same run:
/// a plain POST to the same receiver. With `nodes` and a `sharedStore` (`--store postgres --nodes
/// N`): N nodes, each a `vigil serve` and a `vigil notify` on its own spool, all on one store,
/// check-ins submitted to the nodes in turn.
public struct EndToEndBench {
    public var rate = 500
    public var seconds = 20
    /// Percent of check-ins that escalate (each raises a fresh client to imminent).
    public var escalatingPercent = 10
    /// The caseload the routine check-ins come from, in turn. The engine keeps each cached client's
    /// events within the pack's longest look-back (days), so a small caseload checking in many
    /// times a second grows that state with every event, as it should; a large one keeps each
    /// client's history realistic (a few check-ins per run).
    public var clients = 100_000
    /// Nodes: a `vigil serve` and a `vigil notify` each, with its own spool (more than one needs
    /// `sharedStore`).
    public var nodes = 1
    /// The store every node shares; nil: one node on its own SQLite file.
    public var sharedStore: SharedStore?
    let directory: String
    let rules: String
    let binary: String
    let progress: @Sendable (String) -> Void

    public init(
        directory: String, rules: String, binary: String, progress: @escaping @Sendable (String) -> Void
    ) {
        self.directory = directory
        self.rules = rules
        self.binary = binary
        self.progress = progress
    }

    /// A store the nodes share: the `store:` section of their vigil.yaml, and the events it holds.
    public struct SharedStore {
        public var yaml: String
        public var events: () throws -> Int

        public init(yaml: String, events: @escaping () throws -> Int) {
            self.yaml = yaml
            self.events = events
        }
    }

    public struct Report: Sendable {
        public var submitted: Int
        /// Check-ins in the store at the end (all of them, or the run is not valid).
        public var stored: Int
        public var escalations: Int
        public var delivered: Int
        public var requests: Int
        public var submitSeconds: Double
        public var drainSeconds: Double
        /// Spool drop to delivery, per escalation, in milliseconds (sorted).
        public var latencies: [Double]
        /// A direct POST to the same receiver, in milliseconds (sorted).
        public var floor: [Double]
        /// Once a second while submitting: the daemon's and the notifier's resident memory (KiB)
        /// and the spool's backlog (entries in `new/`).
        public var samples: [Sample] = []

        /// Resident memory once warmed up (its highest in the second quarter of the run) and its
        /// highest in the last quarter, in KiB, and the growth between them in percent. Highest
        /// against highest: memory a process has touched stays resident, so one sample against a
        /// later maximum counts a transient peak (a large chunk) as growth; a leak still shows as
        /// the last quarter's peak above the second quarter's.
        public func growth(_ field: KeyPath<Sample, Int>) -> (warm: Int, late: Int, percent: Double) {
            guard samples.count >= 4 else { return (0, 0, .nan) }
            let warm = samples[(samples.count / 4)..<(samples.count / 2)].map { $0[keyPath: field] }.max() ?? 0
            let late = samples[(samples.count * 3 / 4)...].map { $0[keyPath: field] }.max() ?? warm
            return (warm, late, warm > 0 ? Double(late - warm) * 100 / Double(warm) : .nan)
        }

        public struct Sample: Sendable {
            public var serveRSS: Int
            public var notifyRSS: Int
            public var backlog: Int
        }

        public static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
        }
    }

    public func run() throws -> Report {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let receiver = try LoopbackReceiver()
        let secret = directory + "/webhook.secret"
        _ = FileManager.default.createFile(
            atPath: secret, contents: Data("bench-secret\n".utf8), attributes: [.posixPermissions: 0o600])
        var spools: [SpoolDirectory] = []
        var processes: [(serve: Process, notify: Process)] = []
        defer {
            for (serve, notify) in processes {
                stop(serve)
                stop(notify)
            }
        }
        for node in 0..<nodes {
            let home = directory + "/node-\(node)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let config = home + "/vigil.yaml"
            try """
            spool: spool
            state: state
            rules: \(rules)
            notifier:
              channels:
                hook: {type: webhook, url: "http://127.0.0.1:\(receiver.port)/hook", secret_file: \(secret)}
              default_channel: hook
            \(sharedStore?.yaml ?? "")

            """.write(toFile: config, atomically: true, encoding: .utf8)
            let spool = SpoolDirectory(root: home + "/spool")
            _ = try spool.open()
            spools.append(spool)
            let serve = try launch(
                ["serve", "--config", config, "--log", "stderr", "--log-level", "warning"], in: home, log: "serve.log")
            if sharedStore == nil { try waitForFile(home + "/state/vigil.sqlite") }
            let notify = try launch(["notify", "--config", config, "--log", "stderr"], in: home, log: "notify.log")
            processes.append((serve, notify))
        }
        let vocabulary = try VocabularyFile.load(rulesDirectory: rules)
        let submissions = spools.map { Submission(spool: $0, vocabulary: vocabulary) }
        let clock = SystemClock()
        // On a shared store, each node ready: its first check-in stored.
        let canaries = sharedStore == nil ? 0 : nodes
        if let sharedStore {
            for (node, submission) in submissions.enumerated() {
                let line = Self.routine(id: "ready-\(node)", client: "ready-\(node)", at: clock.now(), index: node)
                _ = try submission.submit(Array(line.utf8), batch: false, now: clock.now())
            }
            let ready = SystemClock.monotonicMicroseconds() + 120_000_000
            while ((try? sharedStore.events()) ?? 0) < canaries {
                guard SystemClock.monotonicMicroseconds() < ready else {
                    throw BenchError("the nodes did not store their first check-in within 120 s")
                }
                usleep(50_000)
            }
        }
        let total = rate * seconds
        let sampler = Sampler(
            serve: processes[0].serve.processIdentifier, notify: processes[0].notify.processIdentifier,
            new: spools.map(\.new))
        let start = SystemClock.monotonicMicroseconds()
        // One writer per node, as in a deployment, where each node's writers fsync on its own disk:
        // one thread taking every node's files in turn would cap the rate at one disk's fsyncs.
        let schedule = Schedule(
            rate: rate, total: total, nodes: nodes, every: max(1, 100 / max(1, escalatingPercent)),
            clients: clients, start: start)
        // Threads of their own: `concurrentPerform` runs only as many at once as there are cores.
        let writers = Writers(nodes: nodes)
        let finished = DispatchGroup()
        for node in 0..<nodes {
            finished.enter()
            Thread { [progress] in
                writers.finish(node) {
                    try schedule.submitShare(
                        of: node, to: submissions[node], clock: clock, sampler: node == 0 ? sampler : nil,
                        progress: progress)
                }
                finished.leave()
            }.start()
        }
        finished.wait()
        let dropped = try writers.dropped()
        let submitSeconds = Double(SystemClock.monotonicMicroseconds() - start) / 1e6
        progress("submitted \(total) check-ins in \(String(format: "%.1f", submitSeconds)) s; waiting for deliveries")
        let deadline = SystemClock.monotonicMicroseconds() + 60_000_000
        while receiver.snapshot.arrivals.count < dropped.count && SystemClock.monotonicMicroseconds() < deadline {
            usleep(20_000)
        }
        let drainSeconds = Double(SystemClock.monotonicMicroseconds() - start) / 1e6
        let (arrivals, requests) = receiver.snapshot
        // The last routine check-ins may still be committing when the last escalation arrives.
        let events: () throws -> Int
        if let sharedStore {
            events = { try sharedStore.events() - canaries }
        } else {
            let store = try EventStore(readingFrom: directory + "/node-0/state/vigil.sqlite")
            events = { try store.status().events }
        }
        var stored = try events()
        while stored < total && SystemClock.monotonicMicroseconds() < deadline {
            usleep(20_000)
            stored = try events()
        }
        let latencies = dropped.compactMap { client, at in arrivals[client].map { Double($0 - at) / 1000 } }.sorted()
        return Report(
            submitted: total, stored: stored, escalations: dropped.count, delivered: latencies.count,
            requests: requests,
            submitSeconds: submitSeconds, drainSeconds: drainSeconds, latencies: latencies,
            floor: try floor(receiver: receiver), samples: sampler.samples)
    }

    /// 500 sequential POSTs of a task-sized body straight to the receiver.
    func floor(receiver: LoopbackReceiver) throws -> [Double] {
        guard let url = URL(string: "http://127.0.0.1:\(receiver.port)/floor") else { return [] }
        let client = HTTPPost.notifierClient(connect: .seconds(5))
        let post = HTTPPost(timeout: .seconds(5), client: client)
        let body = Data(String(repeating: "x", count: 800).utf8)
        let box = LatencyBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            for _ in 0..<500 {
                let begin = SystemClock.monotonicMicroseconds()
                _ = await post.send(url, body: body, headers: [:])
                box.append(Double(SystemClock.monotonicMicroseconds() - begin) / 1000)
            }
            try? await client.shutdown()
            done.signal()
        }
        done.wait()
        return box.values.sorted()
    }

    static func imminent(id: String, client: String, at: Timestamp) -> String {
        SyntheticCheckIn(
            id: id, client: client, at: at, kind: "screening", source: "crisis_line",
            screening: .init(
                wishDead: true, suicidalThoughts: true, method: true, intent: true, plan: true,
                behaviorPast3Months: true),
            note: "bench"
        ).json
    }

    static func routine(id: String, client: String, at: Timestamp, index: Int) -> String {
        SyntheticCheckIn(
            id: id, client: client, at: at, measures: ["mood": 4 + index % 5, "craving": index % 4, "sleep_hours": 7]
        ).json
    }

    func launch(_ arguments: [String], in home: String, log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: home)
        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { environment[key] = nil }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: home + "/" + log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: home + "/" + log))
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        return process
    }

    func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    func waitForFile(_ path: String) throws {
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: path) { usleep(20_000) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw SystemError("the daemon did not create its store", path: path)
        }
    }
}

/// When each check-in of a run is due, what it is, and which node's writer drops it.
struct Schedule: Sendable {
    var rate: Int
    var total: Int
    var nodes: Int
    /// Every how many check-ins one escalates.
    var every: Int
    var clients: Int
    var start: Int64

    /// Submits check-ins `node`, `node + nodes`, … to one node's spool, each at its instant (`rate` a
    /// second over all nodes); returns when each escalating client was dropped. The first node's
    /// writer also samples and reports progress.
    func submitShare(
        of node: Int, to submission: Submission, clock: SystemClock, sampler: Sampler?,
        progress: @Sendable (String) -> Void
    ) throws -> [String: Int64] {
        var dropped: [String: Int64] = [:]
        for index in stride(from: node, to: total, by: nodes) {
            let target = start + Int64(index) * 1_000_000 / Int64(rate)
            let wait = target - SystemClock.monotonicMicroseconds()
            if wait > 0 { usleep(UInt32(wait)) }
            let now = clock.now()
            let line: String
            if index % every == 0 {
                let client = "e2e-\(index)"
                line = EndToEndBench.imminent(id: "e-\(index)", client: client, at: now)
                dropped[client] = now.microseconds
            } else {
                line = EndToEndBench.routine(
                    id: "r-\(index)", client: "r2e-\(index % clients)", at: now, index: index)
            }
            _ = try submission.submit(Array(line.utf8), batch: false, now: now)
            guard let sampler else { continue }
            if index % rate < nodes { sampler.sample() }
            if index > 0 && index % (rate * 5) < nodes { progress("submitted \(index) of \(total) check-ins") }
        }
        return dropped
    }
}

/// What each node's writer thread dropped, or the first error one of them met.
final class Writers: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<[String: Int64], any Error>?]

    init(nodes: Int) { results = Array(repeating: nil, count: nodes) }

    func finish(_ node: Int, _ work: () throws -> [String: Int64]) {
        let result = Result { try work() }
        lock.withLock { results[node] = result }
    }

    /// Every escalating client with the instant it was dropped, over all writers.
    func dropped() throws -> [String: Int64] {
        try lock.withLock { results }.reduce(into: [:]) { all, result in
            guard let result else { throw BenchError("a writer thread did not finish") }
            all.merge(try result.get()) { first, _ in first }
        }
    }
}

/// Latencies collected by the floor's task.
final class LatencyBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Double] = []
    var values: [Double] { lock.withLock { stored } }
    func append(_ value: Double) { lock.withLock { stored.append(value) } }
}

/// Samples the first node's two processes' resident memory and the spools' backlog.
final class Sampler: @unchecked Sendable {
    let serve: Int32
    let notify: Int32
    let new: [String]
    private let lock = NSLock()
    private var taken: [EndToEndBench.Report.Sample] = []
    var samples: [EndToEndBench.Report.Sample] { lock.withLock { taken } }

    init(serve: Int32, notify: Int32, new: [String]) {
        self.serve = serve
        self.notify = notify
        self.new = new
    }

    func sample() {
        let backlog = new.reduce(0) { $0 + ((try? FileManager.default.contentsOfDirectory(atPath: $1).count) ?? 0) }
        let sample = EndToEndBench.Report.Sample(
            serveRSS: Self.rss(serve), notifyRSS: Self.rss(notify), backlog: backlog)
        lock.withLock { taken.append(sample) }
    }

    /// VmRSS of a process in KiB (0 when unknown).
    static func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
