import GRDB
import VigilCore

/// What `vigil report` prints: the figures a program is judged by, from the store, as aggregates
/// only (no client id, no free text: neither the note nor a cancellation's reason). The exact
/// definitions are in docs/report.md.
public struct SupervisorReport: Encodable, Sendable {
    /// Index events whose follow-up came within the period: `numerator` of `denominator`; `pending`
    /// counts index events whose period had not ended by the report's end (left out of both).
    public struct Measure: Encodable, Sendable {
        public var numerator = 0
        public var denominator = 0
        public var pending = 0
        @NullWhenAbsent public var rate: Double?
    }

    /// Hours from episodes opening to the client's first reached contact.
    public struct Delay: Encodable, Sendable {
        public var episodes = 0
        /// Episodes with no reached contact by the report's end.
        public var never = 0
        @NullWhenAbsent public var medianHours: Double?
        @NullWhenAbsent public var p90Hours: Double?

        enum CodingKeys: String, CodingKey {
            case episodes, never
            case medianHours = "median_hours"
            case p90Hours = "p90_hours"
        }
    }

    /// What became of the tasks created in the window.
    public struct Tasks: Encodable, Sendable {
        public var created = 0
        public var overdue = 0
        public var unreachable = 0
        public var deadByChannel: [String: Int] = [:]
        public var cancelledSuperseded = 0
        public var cancelledByPerson = 0

        enum CodingKeys: String, CodingKey {
            case created, overdue, unreachable
            case deadByChannel = "dead_by_channel"
            case cancelledSuperseded = "cancelled_superseded"
            case cancelledByPerson = "cancelled_by_person"
        }
    }

    /// One UTC day's volume: rule firings (by the check-in's day) and tasks by route (by creation).
    public struct Day: Encodable, Sendable {
        public var day: String
        public var firingsByRule: [String: Int] = [:]
        public var tasksByRoute: [String: Int] = [:]

        enum CodingKeys: String, CodingKey {
            case day
            case firingsByRule = "firings_by_rule"
            case tasksByRoute = "tasks_by_route"
        }
    }

    @NullWhenAbsent public var from: String?
    public var to: String
    /// FUM/FUA-style: a reached contact within 7 and 30 days after an ED visit or overdose.
    public var followUp7Days = Measure()
    public var followUp30Days = Measure()
    /// A reached contact within 24 and 72 hours after a high or imminent episode opened.
    public var episodeFollowUp24Hours = Measure()
    public var episodeFollowUp72Hours = Measure()
    public var escalationToFirstReachedContact = Delay()
    public var tasks = Tasks()
    public var days: [Day] = []
    /// Only with `--by-client`: each client with an index event in the window (pseudonymous ids).
    public var clients: [ClientLine]?

    /// One client's follow-up after its ED visits and overdoses (pending ones count as not followed).
    public struct ClientLine: Encodable, Sendable {
        public var client: String
        public var indexEvents = 0
        public var followedWithin7Days = 0
        public var followedWithin30Days = 0

        enum CodingKeys: String, CodingKey {
            case client
            case indexEvents = "index_events"
            case followedWithin7Days = "followed_within_7_days"
            case followedWithin30Days = "followed_within_30_days"
        }
    }

    enum CodingKeys: String, CodingKey {
        case from, to, tasks, days, clients
        case followUp7Days = "follow_up_7_days"
        case followUp30Days = "follow_up_30_days"
        case episodeFollowUp24Hours = "episode_follow_up_24_hours"
        case episodeFollowUp72Hours = "episode_follow_up_72_hours"
        case escalationToFirstReachedContact = "escalation_to_first_reached_contact"
    }
}

extension EventStore {
    /// The report over index events, episodes and tasks in `[from, to]` (`from` nil: from the start).
    /// With `byClient`, also each client's index events and how many were followed up.
    public func supervisorReport(from: Timestamp?, to end: Timestamp, byClient: Bool = false) throws(StoreError)
        -> SupervisorReport
    {
        try read { db in
            var report = SupervisorReport(from: from?.description, to: end.description)
            let start = from?.microseconds ?? Int64.min
            func inWindow(_ time: Int64) -> Bool { time >= start && time <= end.microseconds }
            // Each client's reached contacts, in time order (the outcome is read from the check-in).
            var reached: [String: [Int64]] = [:]
            var index: [(client: String, at: Int64)] = []
            let rows = try Row.fetchCursor(
                db,
                sql:
                    "SELECT client, at, kind, body FROM events WHERE kind IN ('contact', 'ed_visit', 'overdose') ORDER BY at"
            )
            while let row = try rows.next() {
                let client: String = row[0]
                let at: Int64 = row[1]
                let kind: String = row[2]
                if kind == CheckIn.Kind.contact.rawValue {
                    if CheckInDecoder.stored.decodeStored(row[3])?.contact?.outcome == .reached {
                        reached[client, default: []].append(at)
                    }
                } else if inWindow(at) {
                    index.append((client, at))
                }
            }
            /// The first reached contact of `client` at or after `time`.
            func firstReached(_ client: String, after time: Int64) -> Int64? {
                reached[client]?.first { $0 >= time }
            }
            /// Whether `event` was followed by a reached contact within `span`; nil while pending.
            func followed(_ event: (client: String, at: Int64), within span: TimeSpan) -> Bool? {
                guard event.at + span.microseconds <= end.microseconds else { return nil }
                return firstReached(event.client, after: event.at).map { $0 <= event.at + span.microseconds } ?? false
            }
            func measure(_ events: [(client: String, at: Int64)], within span: TimeSpan) -> SupervisorReport.Measure {
                var measure = SupervisorReport.Measure()
                for event in events {
                    switch followed(event, within: span) {
                    case nil: measure.pending += 1
                    case true?:
                        measure.denominator += 1
                        measure.numerator += 1
                    case false?: measure.denominator += 1
                    }
                }
                if measure.denominator > 0 { measure.rate = Double(measure.numerator) / Double(measure.denominator) }
                return measure
            }
            if byClient {
                var lines: [String: SupervisorReport.ClientLine] = [:]
                for event in index {
                    lines[event.client, default: .init(client: event.client)].indexEvents += 1
                    if followed(event, within: .days(7)) == true { lines[event.client]?.followedWithin7Days += 1 }
                    if followed(event, within: .days(30)) == true { lines[event.client]?.followedWithin30Days += 1 }
                }
                report.clients = lines.keys.sorted().compactMap { lines[$0] }
            }
            report.followUp7Days = measure(index, within: .days(7))
            report.followUp30Days = measure(index, within: .days(30))

            let episodes = try Row.fetchAll(db, sql: "SELECT client, tier, opened_at FROM episodes ORDER BY opened_at")
                .map { (client: $0[0] as String, tier: $0[1] as String, at: $0[2] as Int64) }.filter { inWindow($0.at) }
            let serious = episodes.filter { $0.tier == Tier.high.rawValue || $0.tier == Tier.imminent.rawValue }
                .map { (client: $0.client, at: $0.at) }
            report.episodeFollowUp24Hours = measure(serious, within: .hours(24))
            report.episodeFollowUp72Hours = measure(serious, within: .hours(72))
            var hours: [Double] = []
            for episode in episodes {
                report.escalationToFirstReachedContact.episodes += 1
                guard let contact = firstReached(episode.client, after: episode.at), contact <= end.microseconds else {
                    report.escalationToFirstReachedContact.never += 1
                    continue
                }
                hours.append(Double(contact - episode.at) / 3.6e9)
            }
            hours.sort()
            report.escalationToFirstReachedContact.medianHours = Quantiles.median(hours)
            report.escalationToFirstReachedContact.p90Hours = Quantiles.nearestRank(hours, 0.9)

            var days: [String: SupervisorReport.Day] = [:]
            func day(_ time: Int64) -> String { String(Timestamp(microseconds: time).description.prefix(10)) }
            let tasks = try Row.fetchCursor(
                db,
                sql: """
                    SELECT created_at, route, state, channel, cancel_reason LIKE 'superseded by %', overdue_raised,
                        contact_attempts, kind FROM tasks
                    """)
            while let row = try tasks.next() {
                let created: Int64 = row[0]
                guard inWindow(created) else { continue }
                let route: String = row[1]
                let state: String = row[2]
                report.tasks.created += 1
                days[day(created), default: .init(day: day(created))].tasksByRoute[route, default: 0] += 1
                if (row[5] as Int64) != 0 { report.tasks.overdue += 1 }
                if (row[6] as Int64) >= 3, state != TaskState.resolved.rawValue { report.tasks.unreachable += 1 }
                if state == TaskState.dead.rawValue { report.tasks.deadByChannel[row[3] ?? "none", default: 0] += 1 }
                if state == TaskState.cancelled.rawValue {
                    if (row[4] as Bool?) == true {
                        report.tasks.cancelledSuperseded += 1
                    } else {
                        report.tasks.cancelledByPerson += 1
                    }
                }
            }
            let firings = try Row.fetchCursor(
                db,
                sql: "SELECT e.at, v.fired FROM evaluations v JOIN events e ON e.seq = v.event_seq WHERE v.fired != ''")
            while let row = try firings.next() {
                let at: Int64 = row[0]
                guard inWindow(at) else { continue }
                let fired: String = row[1]
                for rule in fired.split(separator: " ") {
                    days[day(at), default: .init(day: day(at))].firingsByRule[String(rule), default: 0] += 1
                }
            }
            report.days = days.keys.sorted().compactMap { days[$0] }
            return report
        }
    }
}
