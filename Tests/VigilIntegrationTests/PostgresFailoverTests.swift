import Foundation
import XCTest

/// A failover under load, through the real binaries: `vigil serve` and `vigil notify` on a
/// PostgreSQL 15 primary with a synchronous streaming replica, reached through an address the
/// failover moves (a TCP forwarder standing for a virtual IP or a Patroni-aware proxy). The
/// primary is stopped at once (`pg_ctl stop -m immediate`) while the first half of the check-ins
/// is being ingested, the writers go on dropping the second half (which waits in the spool, the
/// outage logged), then the replica is promoted and the address moved to it: every check-in is
/// stored once on the new primary (the daemon removes a spool file only once its commit returned,
/// which with synchronous replication means the replica has it), each screening's escalation is
/// planned once and delivered, nothing is left in the spool, and the recovery is logged.
final class PostgresFailoverTests: XCTestCase {
    func testAPromotedSynchronousReplicaHasEveryCheckIn() throws {
        let harness = try Harness()
        let primary = try PostgresServer(passwordFileIn: harness.root)
        defer { primary.stop() }
        let replica = try PostgresServer(synchronousReplicaOf: primary)
        defer { replica.stop() }
        let receiver = try WebhookReceiver(in: harness)

        // The address the nodes are configured with, pointing at the primary for now.
        let targetFile = harness.root + "/failover.target"
        try "\(primary.port)\n".write(toFile: targetFile, atomically: true, encoding: .utf8)
        let forwarder = Process()
        forwarder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        forwarder.arguments = [
            "python3", Harness.repository + "/Tests/VigilIntegrationTests/Support/tcp_forwarder.py",
            "--port-file", harness.root + "/failover.port", "--target-file", targetFile,
        ]
        try forwarder.run()
        defer {
            kill(forwarder.processIdentifier, SIGKILL)
            forwarder.waitUntilExit()
        }
        var address = 0
        try eventually(timeout: 10, "the forwarder listening") {
            address = Int((try? String(contentsOfFile: harness.root + "/failover.port", encoding: .utf8)) ?? "") ?? 0
            return address > 0
        }
        try primary.configuration(receiver: receiver, poll: "1s")
            .replacingOccurrences(of: "127.0.0.1:\(primary.port)/", with: "127.0.0.1:\(address)/")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let notifier = try harness.startNotifier()
        defer { _ = notifier.stop() }

        func drop(_ range: Range<Int>) throws {
            for index in range {
                let at = ResponsePlanTests.time(Double(index) - 600)
                let body =
                    index % 10 == 0
                    ? ResponsePlanTests.highScreening(id: "f-\(index)", client: "s-\(index)", at: at)
                    : checkIn(id: "f-\(index)", client: "r-\(index % 30)", at: at)
                try harness.drop("f-\(index).json", body)
            }
        }
        // Half the check-ins; the primary goes while they are being committed.
        try drop(0..<150)
        try eventually(timeout: 60, "some of the first half committed on the primary") {
            Int(try primary.psql("SELECT count(*) FROM events").output.trimmingCharacters(in: .whitespacesAndNewlines))
                ?? 0 >= 30
        }
        let stopped = try PostgresServer.run(
            as: primary.runAs,
            [primary.bin + "/pg_ctl", "-D", primary.directory + "/data", "-m", "immediate", "-w", "stop"])
        XCTAssertEqual(stopped.status, 0, stopped.output)
        // The writers go on while the primary is gone: the daemon keeps their files in the spool.
        try drop(150..<300)
        try eventually(timeout: 60, "the outage logged") { daemon.log.contains("cannot commit check-ins") }
        XCTAssertGreaterThan(harness.names(in: harness.new).count, 0, "check-ins waiting in the spool")
        // The failover: the replica promoted, the address moved to it.
        try replica.promote()
        try "\(replica.port)\n".write(toFile: targetFile, atomically: true, encoding: .utf8)
        try eventually(timeout: 120, "every check-in stored on the promoted replica") {
            try replica.psql("SELECT count(*) FROM events").output.trimmingCharacters(in: .whitespacesAndNewlines)
                == "300"
        }
        XCTAssertEqual(try replica.value("SELECT count(DISTINCT id) FROM events"), "300")
        XCTAssertEqual(harness.names(in: harness.new), [], "nothing left in the spool")
        XCTAssertEqual(
            try replica.value("SELECT count(DISTINCT client) FROM tasks WHERE kind = 'escalation'"), "30",
            "each screening's escalation planned")
        XCTAssertEqual(
            try replica.value(
                "SELECT count(*) FROM (SELECT client FROM tasks WHERE kind = 'escalation' GROUP BY client HAVING count(*) > 1) AS twice"
            ), "0", "an escalation planned twice")
        try eventually(timeout: 60, "every escalation delivered") {
            try replica.psql("SELECT count(*) FROM tasks WHERE kind = 'escalation' AND state <> 'delivered'").output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0"
        }
        let escalations = Set(
            try replica.value("SELECT id FROM tasks WHERE kind = 'escalation'").split(separator: "\n").map(String.init))
        XCTAssertTrue(escalations.isSubset(of: Set(receiver.acceptedKeys)), "an escalation the receiver never accepted")
        try eventually("the recovery logged") { daemon.log.contains("ingestion resumed") }
    }
}
