import GRDB
import Logging
import VigilCore
import XCTest

@testable import VigilShell

/// The decision stage on real SQLite files, with the shipped pack: a commit's clients are evaluated
/// while its check-ins are stored, and the result stands only for the clients whose check-ins were
/// all new.
final class DecisionStageTests: XCTestCase {
    let start = Timestamp(seconds: 1_767_225_600)

    func store(_ path: String, pack: RulePack) throws -> EventStore {
        var logger = Logger(label: "vigil.test")
        logger.logLevel = .critical
        return try EventStore(path: path, stages: [DecisionStage(pack: pack, logger: logger)])
    }

    /// A check-in as a writer sends it, decoded by the daemon's decoder: `mood` a routine check-in's,
    /// `screening` a counselor's C-SSRS screening (JSON).
    func event(_ id: String, client: String, hours: Int64, mood: Int? = nil, screening: String? = nil) throws
        -> PendingEvent
    {
        let at = start.adding(.hours(hours))
        let body =
            screening.map {
                #"{"id":"\#(id)","client":"\#(client)","at":"\#(at)","kind":"screening","source":"counselor","screening":\#($0)}"#
            }
            ?? #"{"id":"\#(id)","client":"\#(client)","at":"\#(at)","kind":"checkin","source":"peer","measures":{"mood":\#(mood ?? 5)}}"#
        let checkIn = try XCTUnwrap(CheckInDecoder.stored.decodeStored(body), body)
        return PendingEvent(checkIn: checkIn, digest: sha256Hex(Array(body.utf8)), body: body, origin: "\(id).jsonl")
    }

    /// A commit holding, for one client, a replay of a stored check-in and a conflicting reuse of
    /// its id beside two new screenings leaves the same decisions as a commit of the new ones
    /// alone, and so does the next commit (the client's state, cached or rebuilt, is the stored
    /// one). A second client, all of whose check-ins are new, is decided alike in both; a third,
    /// whose only check-ins in the commit are replays, is left as stored, and its next check-in
    /// is decided on its stored history (not on the replays evaluated ahead).
    func testAClientWithAReplayOrAConflictInACommitIsDecidedOnItsNewCheckInsOnly() throws {
        let scratch = try Scratch()
        let pack = try RulePack.load(directory: Scratch.repository + "/Rules")
        let moderate = #"{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":false}"#
        let high =
            #"{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":false,"plan":false,"behavior_past_3_months":false}"#
        let history = [
            try event("a", client: "c-1", hours: 0, mood: 6), try event("z", client: "c-2", hours: 0, mood: 6),
            try event("p", client: "c-3", hours: 0, mood: 9), try event("q", client: "c-3", hours: 1, mood: 9),
        ]
        let new = [
            try event("b", client: "c-1", hours: 1, screening: moderate),
            try event("y", client: "c-2", hours: 1, mood: 2),
            try event("c", client: "c-1", hours: 2, screening: high),
        ]
        let replayed = history[0]
        let conflicting = try event("a", client: "c-1", hours: 0, mood: 1)
        let later = [
            try event("d", client: "c-1", hours: 3, mood: 3), try event("x", client: "c-2", hours: 3, mood: 1),
            try event("r", client: "c-3", hours: 3, mood: 5),
        ]

        let mixed = try store(scratch.path + "/mixed.sqlite", pack: pack)
        let clean = try store(scratch.path + "/clean.sqlite", pack: pack)
        for store in [mixed, clean] { _ = try store.commit(history, at: start.adding(.minutes(1))) }
        // c-3's only check-ins in it are replays: it is left as stored, and so is its cached state.
        let outcomes = try mixed.commit(
            [new[0], replayed, new[1], conflicting, new[2], history[2], history[3]], at: start.adding(.hours(3)))
        XCTAssertEqual(outcomes[1], CommitOutcome.duplicate)
        XCTAssertEqual(outcomes[3], CommitOutcome.conflict)
        XCTAssertEqual(outcomes[5...], [.duplicate, .duplicate])
        _ = try clean.commit(new, at: start.adding(.hours(3)))
        let first = try decisions(scratch.path + "/mixed.sqlite")
        XCTAssertEqual(first, try decisions(scratch.path + "/clean.sqlite"))
        XCTAssertTrue(first.contains { $0.hasPrefix("task c-1 escalation") }, "the screenings rose: \(first)")

        for store in [mixed, clean] { _ = try store.commit(later, at: start.adding(.hours(4))) }
        XCTAssertEqual(try decisions(scratch.path + "/mixed.sqlite"), try decisions(scratch.path + "/clean.sqlite"))
    }

    /// A conflicting reuse of a stored id that reports a crisis (a screening answered yes), beside
    /// a new check-in of the same client in one commit: the new check-in is decided exactly as in
    /// a commit without the conflict, the conflict is refused with its reason, and the crisis it
    /// reports raises the supervisors' task in the same transaction; the decision evaluated ahead
    /// for the client neither hides nor duplicates it.
    func testAConflictReportingACrisisBesideANewCheckInRaisesTheSupervisorsTask() throws {
        let scratch = try Scratch()
        let pack = try RulePack.load(directory: Scratch.repository + "/Rules")
        let intent =
            #"{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":true,"plan":true,"behavior_past_3_months":true}"#
        let history = [try event("a", client: "c-1", hours: 0, mood: 6)]
        let new = try event("b", client: "c-1", hours: 2, mood: 2)
        let conflicting = try event("a", client: "c-1", hours: 1, screening: intent)

        let mixed = try store(scratch.path + "/mixed.sqlite", pack: pack)
        let clean = try store(scratch.path + "/clean.sqlite", pack: pack)
        for store in [mixed, clean] { _ = try store.commit(history, at: start.adding(.minutes(1))) }
        XCTAssertEqual(try mixed.commit([conflicting, new], at: start.adding(.hours(3))).first, .conflict)
        _ = try clean.commit([new], at: start.adding(.hours(3)))

        let withConflict = try decisions(scratch.path + "/mixed.sqlite")
        let without = try decisions(scratch.path + "/clean.sqlite")
        XCTAssertTrue(Set(without).isSubset(of: withConflict), "the new check-in was decided otherwise")
        let added = withConflict.filter { !without.contains($0) }
        XCTAssertEqual(added.count, 1, "exactly the supervisors' task: \(added)")
        XCTAssertTrue(added.first?.hasPrefix("task c-1 escalation ") == true, "\(added)")
        XCTAssertTrue(added.first?.contains(" pending ") == true, "\(added)")
        XCTAssertFalse(without.contains { $0.hasPrefix("task c-1 escalation") }, "the refused screening is not stored")
        let (routes, reasons) = try DatabaseQueue(path: scratch.path + "/mixed.sqlite").read { db in
            (
                try String.fetchAll(db, sql: "SELECT route FROM tasks WHERE client = 'c-1' AND kind = 'escalation'"),
                try String.fetchAll(db, sql: "SELECT reasons FROM rejections")
            )
        }
        XCTAssertEqual(routes, [CrisisContent.supervisorRoute])
        XCTAssertEqual(reasons, [EventStore.conflictProblem])
    }

    /// What the decisions left, as comparable lines: each check-in's evaluation (by id), each
    /// client's row, episode and tasks.
    func decisions(_ path: String) throws -> [String] {
        try DatabaseQueue(path: path).read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT 'evaluation ' || e.client || ' ' || e.id || ' ' || v.fired || ' ' || v.score || ' ' || v.tier
                        || ' ' || coalesce(v.ended, '-')
                    FROM evaluations v JOIN events e ON e.seq = v.event_seq
                    UNION ALL
                    SELECT 'client ' || id || ' ' || first_at || ' ' || last_at || ' ' || events || ' '
                        || coalesce(score, '-') || ' ' || coalesce(tier, '-') || ' ' || coalesce(scored_at, '-')
                        || ' ' || coalesce(absence_due, '-')
                    FROM clients
                    UNION ALL
                    SELECT 'episode ' || client || ' ' || number || ' ' || tier || ' ' || opened_at FROM episodes
                    UNION ALL
                    SELECT 'task ' || client || ' ' || kind || ' ' || id || ' ' || state || ' ' || due
                        || ' ' || coalesce(cancel_reason, '-')
                    FROM tasks
                    ORDER BY 1
                    """)
        }
    }

    /// A store given both `ClientIndex` and `DecisionStage` would count every check-in twice in its
    /// client index: its commits are refused, and nothing is stored.
    func testACommitWithBothIndexKeepingStagesIsRefused() throws {
        let scratch = try Scratch()
        let pack = try RulePack.load(directory: Scratch.repository + "/Rules")
        var logger = Logger(label: "vigil.test")
        logger.logLevel = .critical
        let path = scratch.path + "/both.sqlite"
        let store = try EventStore(path: path, stages: [ClientIndex(), DecisionStage(pack: pack, logger: logger)])
        XCTAssertThrowsError(try store.commit([try event("a", client: "c-1", hours: 0, mood: 6)], at: start)) {
            XCTAssertTrue("\($0)".contains("both keep the client index"), "\($0)")
        }
        XCTAssertEqual(try EventStore(path: path).status().events, 0)
    }
}
