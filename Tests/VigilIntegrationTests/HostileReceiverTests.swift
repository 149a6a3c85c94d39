import Foundation
import Glibc
import XCTest

/// Issue 12, hostile receivers: `vigil notify` against real receivers on loopback that redirect,
/// answer a gigabyte, or trickle a byte a second. The figures (attempt durations, memory, latency)
/// are printed so that they can be quoted; only the functional deadlines are asserted.
final class HostileReceiverTests: XCTestCase {
    /// A redirect is never followed and never counts as delivered: 302, 307 and 308 each leave the
    /// escalation dead after one attempt, naming the Location (escaped), and its fallback goes to
    /// the journal. The redirect's target, which would answer 200, hears nothing; the receiver
    /// would answer 200 to a retry, so a redirect retried instead of failed would show.
    func testARedirectIsNotDeliveredAndTheEscalationFallsBack() throws {
        let harness = try Harness()
        let elsewhere = try WebhookReceiver(in: harness, name: "elsewhere")
        let locations = [
            302: elsewhere.url + "?via=302", 307: elsewhere.url + "?q=\"307\"", 308: elsewhere.url + "?via=308",
        ]
        let receiver = try WebhookReceiver(
            in: harness, name: "team", script: locations.keys.sorted().map { "redirect\($0):\(locations[$0] ?? "")" })
        try NotifierTests.configure(harness, receiver: receiver)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let escalations = try NotifierTests.escalations(harness, clients: 3)
        let notifier = try harness.startNotifier()
        defer { _ = notifier.stop() }
        try eventually(timeout: 30, "every escalation dead and its fallback delivered") {
            let tasks = try harness.tasks()
            let dead = tasks.filter {
                escalations.contains($0["id"] as? String ?? "") && $0["state"] as? String == "dead"
            }
            let fallbacks = tasks.filter {
                escalations.contains($0["about"] as? String ?? "") && $0["state"] as? String == "delivered"
            }
            return dead.count == 3 && fallbacks.count == 3
        }
        let tasks = try harness.tasks()
        let expectedErrors = Set(
            [
                "HTTP 302 from 127.0.0.1: redirect to \"\(elsewhere.url)?via=302\" not followed",
                "HTTP 307 from 127.0.0.1: redirect to \"\(elsewhere.url)?q=\"307\"\" not followed",
                "HTTP 308 from 127.0.0.1: redirect to \"\(elsewhere.url)?via=308\" not followed",
            ])
        var errors: Set<String> = []
        for id in escalations {
            let task = try XCTUnwrap(tasks.first { $0["id"] as? String == id })
            XCTAssertEqual(task["state"] as? String, "dead", "\(task)")
            XCTAssertEqual(task["attempts"] as? Int, 1, "failed at once, not retried: \(task)")
            XCTAssertNil(task["delivered_at"] as? String, "never delivered: \(task)")
            errors.insert(task["last_error"] as? String ?? "")
            let fallback = try XCTUnwrap(tasks.first { $0["about"] as? String == id }, "a fallback for \(id)")
            XCTAssertEqual(fallback["kind"] as? String, "escalation")
            XCTAssertEqual(fallback["channel"] as? String, "journal")
            XCTAssertEqual(fallback["state"] as? String, "delivered")
        }
        XCTAssertEqual(errors, expectedErrors, "each names the Location it was sent to, escaped")
        XCTAssertEqual(
            Set(receiver.answered.compactMap { $0["status"] as? Int }), [302, 307, 308], "the receiver redirected")
        XCTAssertEqual(receiver.arrivals.count, 3, "one attempt each")
        XCTAssertTrue(receiver.answered.allSatisfy { $0["signature_ok"] as? Bool == true })
        XCTAssertEqual(elsewhere.arrivals.count, 0, "the redirect's target got nothing: \(elsewhere.lines)")
        for error in expectedErrors {
            XCTAssertTrue(notifier.log.contains(error), "the notifier log names the Location: \(error)")
        }
        XCTAssertFalse(notifier.log.contains("escalation delivered to team"), notifier.log)
    }

    /// A 1 GiB answer (streamed as fast as the notifier reads it) is cut off after 64 KiB: the
    /// attempt ends within the channel's timeout, the notifier's memory stays flat, and the 200 it
    /// carried counts as delivered (the receiver accepted the payload when it answered 200).
    func testAHugeAnswerIsCutOffWithinTheTimeoutAndMemoryStaysFlat() throws {
        let harness = try Harness()
        let receiver = try WebhookReceiver(in: harness, script: ["huge"])
        let timeout = 2.0
        try NotifierTests.configure(harness, receiver: receiver, timeout: "2s", lease: "5s")
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let notifier = try harness.startNotifier()
        defer { notifier.crash() }  // a delivery that hangs must fail the test, not hang its stop
        try eventually("the notifier started") { notifier.log.contains("notifier started") }
        let pid = notifier.process.processIdentifier
        let baseline = try memoryKiB(pid, "VmRSS")
        let id = try XCTUnwrap(try NotifierTests.escalations(harness, clients: 1).first)
        try eventually(timeout: 30, "the huge answer ended") {
            receiver.answered.contains { $0["step"] as? String == "huge" }
        }
        try eventually(timeout: 10, "the escalation delivered") {
            try harness.tasks().first { $0["id"] as? String == id }?["state"] as? String == "delivered"
        }
        let answer = try XCTUnwrap(receiver.answered.first { $0["step"] as? String == "huge" })
        let duration = (answer["t_end"] as? Double ?? .infinity) - (answer["t"] as? Double ?? 0)
        let sent = answer["sent"] as? Int ?? -1
        let peak = try memoryKiB(pid, "VmHWM")
        let rss = try memoryKiB(pid, "VmRSS")
        print(
            "huge answer: attempt \(String(format: "%.2f", duration)) s (timeout \(timeout) s); receiver sent \(sent) of \(1 << 30) bytes; notifier VmRSS \(baseline) KiB before, \(rss) KiB after, VmHWM \(peak) KiB (+\(peak - baseline) KiB)"
        )
        XCTAssertLessThan(duration, timeout + 1.5, "the attempt ends within the timeout")
        XCTAssertGreaterThanOrEqual(sent, 0)
        // 64 KiB read, plus what the sockets' buffers held when the notifier closed the connection.
        XCTAssertLessThan(sent, 64 << 20, "the notifier stopped reading at its limit")
        XCTAssertLessThan(peak - baseline, 100 * 1024, "the notifier's peak memory stays within 100 MB of its baseline")
        let task = try XCTUnwrap(try harness.tasks().first { $0["id"] as? String == id })
        XCTAssertEqual(task["attempts"] as? Int, 1, "\(task)")
        XCTAssertEqual(receiver.acceptedKeys, [id])
        XCTAssertTrue(notifier.process.isRunning)
    }

    /// A 200 whose body trickles a byte a second is delivered, and the connection is cut at the
    /// request's deadline (AsyncHTTPClient's own deadline ends at the response head).
    func testATrickledBodyAfterA200IsCutAtTheDeadline() throws {
        let harness = try Harness()
        let receiver = try WebhookReceiver(in: harness, script: ["trickle-body"])
        let timeout = 2.0
        try NotifierTests.configure(harness, receiver: receiver, timeout: "2s", lease: "5s")
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let id = try XCTUnwrap(try NotifierTests.escalations(harness, clients: 1).first)
        let notifier = try harness.startNotifier()
        defer { notifier.crash() }  // a delivery that hangs must fail the test, not hang its stop
        try eventually(timeout: 30, "the trickled answer cut off") {
            receiver.answered.contains { $0["step"] as? String == "trickle-body" }
        }
        try eventually(timeout: 10, "the escalation delivered") {
            try harness.tasks().first { $0["id"] as? String == id }?["state"] as? String == "delivered"
        }
        let answer = try XCTUnwrap(receiver.answered.first { $0["step"] as? String == "trickle-body" })
        let duration = (answer["t_end"] as? Double ?? .infinity) - (answer["t"] as? Double ?? 0)
        print(
            "trickled body: attempt \(String(format: "%.2f", duration)) s (timeout \(timeout) s), \(answer["sent"] ?? "?") body bytes sent"
        )
        XCTAssertLessThan(duration, timeout + 1.5, "cut at the deadline")
        XCTAssertEqual(try harness.tasks().first { $0["id"] as? String == id }?["attempts"] as? Int, 1)
    }

    /// More trickling tasks than the notifier's 32 slots, on a receiver that sends a byte a second
    /// and never finishes its head: it gets at most 8 connections at once, each cut off at its
    /// channel's timeout and retried, while an escalation to a healthy receiver on another channel
    /// arrives within that channel's timeout of being enqueued.
    func testATricklingReceiverHoldsItsOwnSlotsButNeverStarvesAnother() throws {
        let harness = try Harness()
        let slow = try WebhookReceiver(in: harness, name: "slow", defaultStep: "trickle")
        let healthy = try WebhookReceiver(in: harness, name: "healthy")
        let slowTimeout = 6.0
        let healthyTimeout = 2.0
        try harness.configureNotifier(
            """
            channels:
              slow: {type: webhook, url: "\(slow.url)", secret_file: \(slow.secretPath), timeout: 6s, max_age: 1h}
              team: {type: webhook, url: "\(healthy.url)", secret_file: \(healthy.secretPath), timeout: 2s, max_age: 1h}
              log: {type: journal}
            routes:
              - {match: {kind: escalation, tier: imminent}, channel: team}
              - {match: {kind: [escalation, caring_contact]}, channel: slow}
            default_channel: log
            retry_initial: 200ms
            retry_longest: 1s
            lease: 15s
            poll_interval: 50ms
            """)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        // 17 high clients: an escalation and a caring contact each, 34 tasks for the trickling receiver.
        let trickled = try NotifierTests.escalations(harness, clients: 17)
        let notifier = try harness.startNotifier()
        defer { notifier.crash() }  // a delivery that hangs must fail the test, not hang its stop
        try eventually(timeout: 20, "the trickling receiver saturated") { slow.arrivals.count >= 8 }
        usleep(500_000)  // the claim loop polls every 50 ms: time enough to take more if it would
        let openAtOnce = slow.arrivals.count

        try harness.drop(
            "imminent.json",
            ResponsePlanTests.imminentScreening(id: "i1", client: "c-urgent", at: ResponsePlanTests.time(-60)))
        var urgent: [String: Any] = [:]
        try eventually(timeout: 20, "the imminent escalation enqueued") {
            let task = try harness.tasks().first {
                $0["kind"] as? String == "escalation" && $0["tier"] as? String == "imminent"
            }
            urgent = task ?? [:]
            return task != nil
        }
        let id = try XCTUnwrap(urgent["id"] as? String)
        try eventually(timeout: 30, "the imminent escalation at the healthy receiver") {
            healthy.arrivals.contains { $0["arrived"] as? String == id }
        }
        let arrival = try XCTUnwrap(healthy.arrivals.first { $0["arrived"] as? String == id }?["t"] as? Double)
        let enqueued = try XCTUnwrap(ResponsePlanTests.date(urgent["created"])).timeIntervalSince1970
        let latency = arrival - enqueued
        print(
            "trickle: \(openAtOnce) requests open at the trickling receiver; the healthy escalation arrived \(String(format: "%.3f", latency)) s after it was enqueued (its channel's timeout \(healthyTimeout) s)"
        )
        XCTAssertEqual(openAtOnce, 8, "the trickling receiver holds 8 slots, not more")
        XCTAssertLessThan(latency, healthyTimeout, "the healthy escalation goes out within its channel's timeout")
        try eventually(timeout: 10, "the healthy escalation recorded delivered") {
            try harness.tasks().first { $0["id"] as? String == id }?["state"] as? String == "delivered"
        }

        // The trickled requests are cut off at the deadline and retried, behind the untried ones.
        try eventually(timeout: 90, "a trickled task tried a second time") {
            Dictionary(grouping: slow.arrivals.compactMap { $0["arrived"] as? String }, by: { $0 }).values.contains {
                $0.count >= 2
            }
        }
        let cut = slow.answered.filter { $0["step"] as? String == "trickle" }
        let durations = cut.map { ($0["t_end"] as? Double ?? .infinity) - ($0["t"] as? Double ?? 0) }
        let most = slow.answered.compactMap { $0["open"] as? Int }.max() ?? -1
        print(
            "trickle: \(cut.count) requests cut off after \(String(format: "%.2f", durations.min() ?? .nan))–\(String(format: "%.2f", durations.max() ?? .nan)) s (timeout \(slowTimeout) s); at most \(most) open at once"
        )
        XCTAssertGreaterThanOrEqual(cut.count, 8)
        for duration in durations {
            XCTAssertGreaterThan(duration, slowTimeout - 0.5, "not cut before the deadline")
            XCTAssertLessThan(duration, slowTimeout + 1.5, "cut at the deadline")
        }
        XCTAssertLessThanOrEqual(most, 8, "never more than 8 requests to one receiver at once")
        XCTAssertTrue(
            notifier.log.contains("delivery to slow failed; will retry")
                && notifier.log.contains("no answer within 6s"), "retried after the timeout")
        XCTAssertEqual(slow.acceptedKeys, [], "a head that never ends is never a delivery")
        let tasks = try harness.tasks()
        XCTAssertEqual(
            tasks.filter { trickled.contains($0["id"] as? String ?? "") && $0["state"] as? String == "delivered" }
                .count,
            0)
        XCTAssertEqual(tasks.filter { $0["state"] as? String == "dead" }.count, 0, "nothing given up")
    }
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
func memoryKiB(_ pid: Int32, _ field: String) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
        let value = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) })
    else { throw HarnessError("no \(field) in /proc/\(pid)/status") }
    return value
}
