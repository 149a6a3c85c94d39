import Foundation
import Glibc
import XCTest

/// Crash consistency across the whole path: `kill -9` of the daemon, the notifier or both at
/// random instants during sustained ingest and delivery, then the invariants: every submitted
/// check-in stored exactly once (or rejected with its reason: none here), one evaluation per event,
/// every task its events called for exactly once, and every escalation delivered, with every
/// delivery the receiver saw belonging to a real task.
///
/// `VIGIL_RELIABILITY_ITERATIONS` sets the number of kill rounds (default 8; the heavy variant in
/// docs/reliability.md runs 100).
final class CrashConsistencyTests: XCTestCase {
    func testKillNineOfDaemonAndNotifierLosesAndDuplicatesNothing() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["VIGIL_RELIABILITY_ITERATIONS"] ?? "") ?? 8
        let harness = try Harness()
        // Slow answers for a start, so that some kills land while a delivery is in flight.
        let receiver = try WebhookReceiver(in: harness, script: Array(repeating: "hang", count: 30), hangSeconds: 0.4)
        try harness.configureNotifier(
            """
            channels:
              team: {type: webhook, url: "\(receiver.url)", secret_file: \(receiver.secretPath), timeout: 1s}
            default_channel: team
            lease: 2s
            poll_interval: 50ms
            retry_initial: 100ms
            retry_longest: 500ms
            """)
        var seed: UInt64 = 2026
        func random(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        var submitted = Set<String>()
        var escalating: [String] = []
        var kills = (daemon: 0, notifier: 0)
        var daemon: Harness.Daemon?
        var notifier: Harness.Daemon?
        for round in 0..<iterations {
            if daemon == nil { daemon = try harness.startDaemon(arguments: ["--log-level", "info"]) }
            if notifier == nil { notifier = try harness.startNotifier() }
            // Sustained input: a batch of routine check-ins, single files, and crises (each a new
            // client raised to imminent: its cumulative plan of ResponsePlanTests.imminentPlanSize tasks, one escalation now among them).
            let now = ResponsePlanTests.time(-60)
            let routine = (0..<300).map { index in
                checkIn(
                    id: "r\(round)-\(index)", client: "r-\(index % 50)", at: now,
                    extra: #","measures":{"mood":\#(5 + index % 4)},"note":"private words \#(round)""#)
            }
            try harness.drop("round-\(round).jsonl", routine.joined(separator: "\n") + "\n")
            submitted.formUnion(routine.indices.map { "r\(round)-\($0)" })
            for crisis in 0..<5 {
                let client = "e-\(round)-\(crisis)"
                try harness.drop(
                    "crisis-\(round)-\(crisis).json",
                    ResponsePlanTests.imminentScreening(id: "x\(round)-\(crisis)", client: client, at: now))
                submitted.insert("x\(round)-\(crisis)")
                escalating.append(client)
            }
            usleep(useconds_t(50_000 + random(600_000)))
            switch random(3) {
            case 0:
                daemon?.crash()
                daemon = nil
                kills.daemon += 1
            case 1:
                notifier?.crash()
                notifier = nil
                kills.notifier += 1
            default:
                daemon?.crash()
                notifier?.crash()
                daemon = nil
                notifier = nil
                kills.daemon += 1
                kills.notifier += 1
            }
        }
        let finalDaemon = try daemon ?? harness.startDaemon(arguments: ["--log-level", "info"])
        let finalNotifier = try notifier ?? harness.startNotifier()
        defer {
            _ = finalNotifier.stop()
            _ = finalDaemon.stop()
        }
        try eventually(timeout: 120, "the spool drained") { harness.names(in: harness.new).isEmpty }
        func pending() -> String {
            let tasks = (try? harness.tasks()) ?? []
            let open = tasks.filter { $0["kind"] as? String == "escalation" && $0["state"] as? String != "delivered" }
            let missing = Set(escalating).subtracting(tasks.compactMap { $0["client"] as? String })
            return
                "\(tasks.count) of \(escalating.count * ResponsePlanTests.imminentPlanSize) tasks; clients without tasks: \(missing.sorted().prefix(5)); "
                + "undelivered: \(open.prefix(3).map { "\($0["id"] ?? "") \($0["state"] ?? "") \($0["last_error"] ?? "")" })"
        }
        try eventually(timeout: 120, "every escalation delivered (\(pending()))") {
            try harness.tasks().filter {
                $0["kind"] as? String == "escalation" && $0["state"] as? String != "delivered"
            }
            .isEmpty && (try harness.tasks().count) == escalating.count * ResponsePlanTests.imminentPlanSize
        }
        try eventually(timeout: 20, "the receiver answered every request") {
            receiver.lines.filter { $0["arrived"] != nil }.count == receiver.answered.count
        }

        // Invariants.
        let status = try harness.status()
        XCTAssertEqual(status["events"] as? Int, submitted.count, "every check-in stored exactly once")
        XCTAssertEqual(status["rejected"] as? Int, 0, "nothing rejected")
        XCTAssertEqual(harness.names(in: harness.rejected), [])
        let tasks = try harness.tasks()
        var byClient: [String: [[String: Any]]] = [:]
        for task in tasks { byClient[task["client"] as? String ?? "", default: []].append(task) }
        XCTAssertEqual(Set(byClient.keys), Set(escalating), "tasks only for the clients whose tier rose")
        for client in escalating {
            let slots = (byClient[client] ?? []).compactMap { $0["slot"] as? String }.sorted()
            XCTAssertEqual(slots, Self.imminentPlan, "\(client): its plan, once")
        }
        let escalations = Set(tasks.filter { $0["kind"] as? String == "escalation" }.compactMap { $0["id"] as? String })
        // The tasks delivered at once: each escalation, and the plan review, the assessment and the
        // case manager's task of its client's plan.
        let dueNow = Set(
            tasks.filter { ResponsePlanTests.hours($0, "deliver_at") == 0 }.compactMap { $0["id"] as? String })
        let taskIDs = Set(tasks.compactMap { $0["id"] as? String })
        let seen = Set(receiver.answered.compactMap { $0["key"] as? String })
        XCTAssertEqual(Set(receiver.acceptedKeys), dueNow, "every task due now delivered; none missing")
        XCTAssertTrue(seen.isSubset(of: taskIDs), "every delivery was for a real task")
        XCTAssertFalse(
            try String(contentsOfFile: receiver.logPath, encoding: .utf8).contains("private words"),
            "no note in a payload")
        print(
            """
            crash consistency: \(iterations) rounds, \(kills.daemon) daemon and \(kills.notifier) notifier kill -9s, \
            \(submitted.count) check-ins submitted and stored once, \(tasks.count) tasks (\(escalating.count) plans) \
            each once, \(escalations.count) escalations delivered (\(receiver.answered.count) requests, \
            \(receiver.answered.count - receiver.acceptedKeys.count) redeliveries de-duplicated by key), 0 lost
            """)
    }

    /// The slots of an imminent client's cumulative plan (the default policy): the caring-contact
    /// program's 10 messages and the plan review, then the plan's own jobs.
    static let imminentPlan =
        ((1...10).map { "caring.1.\($0)" } + [
            "plan_review", "high.follow_up.8h.counselor", "high.follow_up.2d.case_manager",
        ]
        + (1...7).map { "high.peer_checkin.\($0)d.peer" }
        + ["imminent.escalation.0s", "imminent.follow_up.1d.counselor", "imminent.follow_up.3d.counselor"]).sorted()
}
