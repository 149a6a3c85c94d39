import Foundation
import Logging
import VigilCore
import VigilShell

/// `vigil bench history`: a seeded, **synthetic** history of a caseload written into a new store
/// through the store's own commit path with the daemon's decision stage (so every check-in is
/// evaluated and every rise plans its tasks, as the daemon would have), hour by hour, with the
/// absence timer run at the end of each hour. For trying `vigil replay` (and the reports) without
/// real data. Nothing in it describes a real person; no note is written.
///
/// Per client and day (rates chosen to be plausible for a recovery caseload, not measured):
/// a routine check-in with good measures (45 %); the start of a stressor cascade (0.4 %: three to
/// five days of stressors, warning signs, falling mood and rising craving); a C-SSRS screening
/// (1 %: mostly negative, some ideation, a few with a method or recent behaviour); a missed
/// appointment (1 %); a crisis call (0.2 %); an ED visit (0.15 %); an overdose (0.05 %). After
/// each cascade, crisis call, ED visit and overdose, a contact one to ten days later that reaches
/// the client two times in three (otherwise no answer or a message left); and routine contacts (3 %).
public struct HistoryBench {
    public var clients = 2_000
    public var days = 90
    public var seed: UInt64 = 1
    public let directory: String
    public let pack: RulePack
    public var progress: (String) -> Void

    public init(directory: String, pack: RulePack, progress: @escaping (String) -> Void) {
        self.directory = directory
        self.pack = pack
        self.progress = progress
    }

    public struct Report: Sendable {
        public var database = ""
        public var checkIns = 0
        public var byKind: [String: Int] = [:]
    }

    /// A check-in as a writer would send it.
    struct Entry: Encodable {
        struct Contact: Encodable { var outcome: String }
        var id: String
        var client: String
        var at: Timestamp
        var kind: String
        var source: String
        var measures: [String: Double]?
        var signs: [String]?
        var stressors: [String]?
        var screening: SyntheticCheckIn.Screening?
        var contact: Contact?
    }

    /// Writes the history ending at `end` (the start of the current hour) into `DIR/state/vigil.sqlite`,
    /// which must not exist yet.
    public func run(endingAt end: Timestamp) throws -> Report {
        let state = directory + "/state"
        let database = state + "/vigil.sqlite"
        guard !FileManager.default.fileExists(atPath: database) else {
            throw BenchError("\(database) exists: bench history writes a new store only")
        }
        try FileManager.default.createDirectory(
            atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let store = try EventStore(
            path: database, stages: [DecisionStage(pack: pack, logger: IngestBench.quietLogger)])
        var report = try write(endingAt: end, into: store)
        report.database = database
        return report
    }

    /// Writes the history ending at `end` into `store`, whose stages should include the pack's
    /// decision stage (either backend: the store conformance suite writes one into each).
    public func write(endingAt end: Timestamp, into store: any CheckInStore) throws -> Report {
        let decoder = CheckInDecoder(vocabulary: pack.vocabulary)
        let hour = TimeSpan.hours(1)
        let start = end.adding(TimeSpan(microseconds: -TimeSpan.days(Int64(days)).microseconds))
        var random = SplitMix(seed: seed)
        var report = Report()
        var scheduled: [Int: [Entry]] = [:]  // by day index: contacts and cascade days to come
        for day in 0..<days {
            progress("day \(day + 1) of \(days)")
            let midnight = start.adding(TimeSpan(microseconds: TimeSpan.days(Int64(day)).microseconds))
            var entries = scheduled.removeValue(forKey: day) ?? []
            for client in 0..<clients {
                entries += self.day(
                    client: client, day: day, midnight: midnight, random: &random, scheduled: &scheduled)
            }
            entries.sort { ($0.at, $0.client) < ($1.at, $1.client) }
            // One commit per hour, at its end, as the daemon met them; then the absence timer.
            var index = 0
            for slot in 0..<24 {
                let commitAt = midnight.adding(TimeSpan(microseconds: hour.microseconds * Int64(slot + 1)))
                var pending: [PendingEvent] = []
                while index < entries.count, entries[index].at < commitAt {
                    let body = JSONOutput.text(entries[index])
                    let decoded = try decoder.decode(Array(body.utf8), now: commitAt)
                    pending.append(
                        PendingEvent(
                            checkIn: decoded.checkIn, digest: decoded.digest, body: body, origin: "bench-history"))
                    report.byKind[entries[index].kind, default: 0] += 1
                    index += 1
                }
                if !pending.isEmpty { _ = try store.commit(pending, rejections: [], at: commitAt) }
                while try store.tick(at: commitAt).clients == AbsenceRound.clientsPerRound {}
                report.checkIns += pending.count
            }
        }
        return report
    }

    /// One client's check-ins of one day; schedules the following days' cascade and contacts.
    func day(client: Int, day: Int, midnight: Timestamp, random: inout SplitMix, scheduled: inout [Int: [Entry]])
        -> [Entry]
    {
        let name = "h\(client)"
        var serial = 0
        func entry(_ kind: String, minutes: Int, source: String = "peer") -> Entry {
            serial += 1
            return Entry(
                id: "d\(day)-\(serial)", client: name,
                at: midnight.adding(.minutes(Int64(minutes))), kind: kind, source: source)
        }
        func later(_ entry: Entry, days offset: Int) {
            guard day + offset < days else { return }
            var moved = entry
            moved.id = "d\(day + offset)-s\(day)-\(entry.id)"
            moved.at = entry.at.adding(.days(Int64(offset)))
            scheduled[day + offset, default: []].append(moved)
        }
        func contactLater() {
            let roll = random.next(100)
            var contact = entry("contact", minutes: 9 * 60 + random.next(8 * 60), source: "counselor")
            contact.contact = .init(outcome: roll < 66 ? "reached" : roll < 90 ? "no_answer" : "left_message")
            later(contact, days: 1 + random.next(10))
        }
        var entries: [Entry] = []
        let minute = 8 * 60 + random.next(12 * 60)
        if random.next(1000) < 450 {
            var routine = entry("checkin", minutes: minute)
            routine.measures = [
                "mood": Double(5 + random.next(4)), "craving": Double(1 + random.next(4)),
                "sleep_hours": Double(6 + random.next(3)),
            ]
            entries.append(routine)
        }
        if random.next(1000) < 4 {
            let length = 3 + random.next(3)
            let stressors = ["job_loss", "conflict_at_home", "financial_strain", "relationship_breakup"]
            let signs = [
                "withdrawing_from_routines", "romanticizing_use", "isolation", "hopelessness", "skipping_meetings",
            ]
            for step in 0..<length {
                var cascade = entry("checkin", minutes: minute + 30)
                cascade.measures = [
                    "mood": Double(max(0, 5 - step - random.next(2))),
                    "craving": Double(min(10, 4 + step + random.next(2))),
                    "sleep_hours": Double(max(2, 6 - step)),
                ]
                cascade.stressors = [stressors[random.next(stressors.count)]]
                cascade.signs = Array(Set((0...min(step, 2)).map { _ in signs[random.next(signs.count)] })).sorted()
                if step == 0 { entries.append(cascade) } else { later(cascade, days: step) }
            }
            contactLater()
        }
        if random.next(1000) < 10 {
            var screening = entry("screening", minutes: minute + 60, source: "counselor")
            let roll = random.next(100)
            let thoughts = roll >= 80
            screening.screening = .init(
                wishDead: roll >= 70, suicidalThoughts: thoughts, method: thoughts && roll >= 92, intent: false,
                plan: false, behaviorPast3Months: roll >= 98)
            entries.append(screening)
        }
        if random.next(1000) < 10 {
            entries.append(entry("missed_appointment", minutes: minute + 90, source: "case_manager"))
        }
        for (kind, perMille, source) in [
            ("crisis_call", 2, "crisis_line"), ("ed_visit", 1.5, "clinician"), ("overdose", 0.5, "clinician"),
        ] as [(String, Double, String)] where Double(random.next(100_000)) < perMille * 100 {
            entries.append(entry(kind, minutes: random.next(24 * 60), source: source))
            contactLater()
        }
        if random.next(1000) < 30 {
            var contact = entry("contact", minutes: minute + 120, source: "peer")
            contact.contact = .init(outcome: random.next(3) < 2 ? "reached" : "no_answer")
            entries.append(contact)
        }
        return entries
    }
}
