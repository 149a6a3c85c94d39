import Foundation
import Glibc
import XCTest

/// The daemon speaks sd_notify: READY=1, STATUS=, WATCHDOG=1 at half the interval, RELOADING=1, STOPPING=1.
final class SystemdNotifyTests: XCTestCase {
    func testNotificationsOverTheDaemonsLife() throws {
        let harness = try Harness()
        try harness.drop("early.json", checkIn(id: "early"))
        let socket = try NotifySocket(path: harness.root + "/notify.sock")
        let daemon = try harness.startDaemon(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])

        try eventually("READY=1") { socket.assignments.contains("READY=1") }
        XCTAssertEqual(try harness.count("events"), 1, "READY=1 comes only after the backlog was ingested")
        let readyStatus = socket.messages.first { $0.contains("READY=1") } ?? ""
        // The start is extended before the store is opened (a migration may be long), not after.
        let opening = socket.messages.firstIndex { $0.contains("EXTEND_TIMEOUT_USEC=1800000000") }
        let ready = socket.messages.firstIndex { $0.contains("READY=1") }
        XCTAssertNotNil(opening, "\(socket.messages)")
        XCTAssertLessThan(opening ?? .max, ready ?? .min, "\(socket.messages)")
        XCTAssertTrue(readyStatus.contains("STATUS=ingested 1"), readyStatus)

        // The watchdog is pinged at half of WATCHDOG_USEC: several pings in a second.
        usleep(1_100_000)
        let pings = socket.assignments.filter { $0 == "WATCHDOG=1" }.count
        XCTAssertGreaterThanOrEqual(pings, 3, "pings at ~200 ms for a 400 ms watchdog")

        try harness.drop("later.json", checkIn(id: "later"))
        try eventually("STATUS= after ingesting") { socket.assignments.contains { $0.hasPrefix("STATUS=ingested 2") } }

        daemon.signal(SIGHUP)
        try eventually("RELOADING=1") { socket.assignments.contains("RELOADING=1") }
        let reload = socket.messages.first { $0.contains("RELOADING=1") } ?? ""
        XCTAssertTrue(reload.contains("MONOTONIC_USEC="), reload)
        try eventually("READY=1 after the reload") { socket.assignments.filter { $0 == "READY=1" }.count >= 2 }

        XCTAssertEqual(daemon.stop(), 0)
        XCTAssertTrue(socket.assignments.contains("STOPPING=1"))
        XCTAssertTrue(daemon.log.contains("configuration and rules reloaded"), daemon.log)
    }

    func testReloadAppliesANewVocabularyAndRefusesABrokenOne() throws {
        let harness = try Harness()
        let copy = try harness.useCopyOfRules()
        let socket = try NotifySocket(path: harness.root + "/notify.sock")
        let daemon = try harness.startDaemon(environment: ["NOTIFY_SOCKET": socket.path])
        try eventually { socket.assignments.contains("READY=1") }

        // A good reload: a new code becomes usable.
        let vocabulary = try String(contentsOfFile: copy + "/vocabulary.yaml", encoding: .utf8)
        try vocabulary.replacingOccurrences(of: "signs:\n", with: "signs:\n  - pacing\n")
            .write(toFile: copy + "/vocabulary.yaml", atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try eventually("READY=1 after the reload") { socket.assignments.filter { $0 == "READY=1" }.count >= 2 }
        try harness.drop("new-code.json", checkIn(id: "new-code", extra: #","signs":["pacing"]"#))
        try eventually("the new code accepted") { try harness.count("events") == 1 }

        // A broken reload: refused, the previous vocabulary keeps serving.
        try "signs: [isolation, isolation]\n".write(
            toFile: copy + "/vocabulary.yaml", atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try eventually("READY=1 after the refused reload") { socket.assignments.filter { $0 == "READY=1" }.count >= 3 }
        XCTAssertTrue(daemon.log.contains("reload refused"), daemon.log)
        try harness.drop("x.json", checkIn(id: "x", extra: #","signs":["pacing"]"#))
        try eventually("still ingesting with the previous vocabulary") { try harness.count("events") == 2 }
        XCTAssertEqual(try harness.count("rejected"), 0)
        XCTAssertEqual(daemon.stop(), 0)
    }
}
