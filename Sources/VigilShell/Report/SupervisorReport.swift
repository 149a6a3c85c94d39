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

        /// Counts one index event: followed within the period (true), not (false), or pending (nil).
        mutating func add(_ followed: Bool?) {
            switch followed {
            case nil: pending += 1
            case true?:
                denominator += 1
                numerator += 1
            case false?: denominator += 1
            }
            rate = denominator > 0 ? Double(numerator) / Double(denominator) : nil
        }
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
        /// Ended by the decision core for the client's sake: a follow-up unreachable after the
        /// policy's attempts, a series the client ended (engaged in care, declined), an opt-out.
        public var cancelledEnded = 0
        public var cancelledByPerson = 0

        enum CodingKeys: String, CodingKey {
            case created, overdue, unreachable
            case deadByChannel = "dead_by_channel"
            case cancelledSuperseded = "cancelled_superseded"
            case cancelledEnded = "cancelled_ended"
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

    /// Caring-contact programs: started in the window (a crisis in it), messages delivered in it, and
    /// programs stopped in it by the client (an opt-out, or a plan that declines).
    public struct Programs: Encodable, Sendable {
        public var started = 0
        public var contactsSent = 0
        public var optedOut = 0

        enum CodingKeys: String, CodingKey {
            case started
            case contactsSent = "contacts_sent"
            case optedOut = "opted_out"
        }
    }

    /// One ISO week's figures (Monday 00:00 UTC to Sunday 24:00), counted in the same pass as the
    /// totals: every index event, episode, task and firing counts in the week of the time that puts
    /// it in the window (so the weeks' numerators, denominators and counts add up to the totals).
    public struct Week: Encodable, Sendable {
        /// The week's Monday, `YYYY-MM-DD`.
        public var week: String
        /// How many of its days lie in the report's window (the first and last week may be partial).
        public var days: Int
        public var followUp7Days = Measure()
        public var followUp30Days = Measure()
        public var episodeFollowUp24Hours = Measure()
        public var episodeFollowUp72Hours = Measure()
        public var escalationToFirstReachedContact = Delay()
        public var tasks = Tasks()
        public var programs = Programs()
        public var firingsByRule: [String: Int] = [:]
        public var tasksByRoute: [String: Int] = [:]

        enum CodingKeys: String, CodingKey {
            case week, days, tasks, programs
            case followUp7Days = "follow_up_7_days"
            case followUp30Days = "follow_up_30_days"
            case episodeFollowUp24Hours = "episode_follow_up_24_hours"
            case episodeFollowUp72Hours = "episode_follow_up_72_hours"
            case escalationToFirstReachedContact = "escalation_to_first_reached_contact"
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
    public var programs = Programs()
    public var days: [Day] = []
    /// Each ISO week from the window's first to its last, empty ones included.
    public var weeks: [Week] = []
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
        case from, to, tasks, programs, days, weeks, clients
        case followUp7Days = "follow_up_7_days"
        case followUp30Days = "follow_up_30_days"
        case episodeFollowUp24Hours = "episode_follow_up_24_hours"
        case episodeFollowUp72Hours = "episode_follow_up_72_hours"
        case escalationToFirstReachedContact = "escalation_to_first_reached_contact"
    }
}

/// The figures of one bucket of the report (the whole window, or one week) as the pass meets them.
struct ReportTally {
    var followUp7Days = SupervisorReport.Measure()
    var followUp30Days = SupervisorReport.Measure()
    var episodeFollowUp24Hours = SupervisorReport.Measure()
    var episodeFollowUp72Hours = SupervisorReport.Measure()
    var delay = SupervisorReport.Delay()
    /// Hours from each episode to its first reached contact (for the median and p90).
    var hours: [Double] = []
    var tasks = SupervisorReport.Tasks()
    var programs = SupervisorReport.Programs()
    var firingsByRule: [String: Int] = [:]
    var tasksByRoute: [String: Int] = [:]

    /// Counts one episode: the hours to its first reached contact, nil when never reached.
    mutating func addEpisode(hoursToContact: Double?) {
        delay.episodes += 1
        if let hoursToContact { hours.append(hoursToContact) } else { delay.never += 1 }
    }

    /// The delay with its quantiles.
    var finishedDelay: SupervisorReport.Delay {
        let sorted = hours.sorted()
        var finished = delay
        finished.medianHours = Quantiles.median(sorted)
        finished.p90Hours = Quantiles.nearestRank(sorted, 0.9)
        return finished
    }
}

/// ISO weeks as the report buckets them: by UTC day number (days since 1970-01-01, a Thursday).
enum ReportWeek {
    static let dayMicroseconds: Int64 = 86_400_000_000

    /// The UTC day of `time`, as days since the epoch.
    static func day(_ time: Int64) -> Int64 {
        time >= 0 ? time / dayMicroseconds : -((-time - 1) / dayMicroseconds) - 1
    }

    /// The Monday that starts the ISO week of UTC day `day`.
    static func monday(ofDay day: Int64) -> Int64 { day - ((day + 3) % 7 + 7) % 7 }

    /// A UTC day as `YYYY-MM-DD`.
    static func text(ofDay day: Int64) -> String {
        String(Timestamp(microseconds: day * dayMicroseconds).description.prefix(10))
    }
}

extension StoreViews {
    /// The report over index events, episodes and tasks in `[from, to]` (`from` nil: from the start).
    /// With `byClient`, also each client's index events and how many were followed up. Every figure is
    /// counted once, into the totals and into its ISO week together (`weeks`).
    public func supervisorReport(from: Timestamp?, to end: Timestamp, byClient: Bool = false) throws(StoreError)
        -> SupervisorReport
    {
        try viewing("cannot read the report") { session in
            /// An integer column that may be NULL.
            func optional(_ row: some SessionRow, _ column: Int32) -> Int64? {
                row.isNull(column) ? nil : row.int64(column)
            }
            var report = SupervisorReport(from: from?.description, to: end.description)
            let start = from?.microseconds ?? Int64.min
            func inWindow(_ time: Int64) -> Bool { time >= start && time <= end.microseconds }
            var total = ReportTally()
            var weeks: [Int64: ReportTally] = [:]  // by the Monday's day number
            var earliest = Int64.max
            /// Counts something that happened at `time` in the totals and in its week.
            func tally(_ time: Int64, _ update: (inout ReportTally) -> Void) {
                update(&total)
                update(&weeks[ReportWeek.monday(ofDay: ReportWeek.day(time)), default: ReportTally()])
                earliest = min(earliest, time)
            }
            // Each client's reached contacts, in time order (the outcome is read from the check-in).
            var reached: [String: [Int64]] = [:]
            var index: [(client: String, at: Int64)] = []
            // Each row reduced as it is read: a contact's body is decoded for its outcome, never kept.
            let events = try session.fetchAll(
                """
                SELECT client, at, kind, CASE WHEN kind = 'contact' THEN body END FROM events
                WHERE kind IN ('contact', 'ed_visit', 'overdose') ORDER BY at
                """
            ) { row in
                // Reached, or the client attended care (`engaged`): both count as follow-up.
                let outcome = row.text(3).flatMap { CheckInDecoder.stored.decodeStored($0)?.contact?.outcome }
                return (
                    client: row.text(0) ?? "", at: row.int64(1),
                    isContact: row.text(2) == CheckIn.Kind.contact.rawValue,
                    reached: outcome == .reached || outcome == .engaged
                )
            }
            for (client, at, isContact, wasReached) in events {
                if isContact {
                    if wasReached { reached[client, default: []].append(at) }
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
            var lines: [String: SupervisorReport.ClientLine] = [:]
            for event in index {
                let within7 = followed(event, within: .days(7))
                let within30 = followed(event, within: .days(30))
                tally(event.at) {
                    $0.followUp7Days.add(within7)
                    $0.followUp30Days.add(within30)
                }
                if byClient {
                    lines[event.client, default: .init(client: event.client)].indexEvents += 1
                    if within7 == true { lines[event.client]?.followedWithin7Days += 1 }
                    if within30 == true { lines[event.client]?.followedWithin30Days += 1 }
                }
            }
            if byClient { report.clients = lines.keys.sorted().compactMap { lines[$0] } }

            let episodes = try session.fetchAll("SELECT client, tier, opened_at FROM episodes") {
                (client: $0.text(0) ?? "", tier: $0.text(1) ?? "", at: $0.int64(2))
            }
            for (client, tier, at) in episodes {
                let episode = (client: client, at: at)
                guard inWindow(episode.at) else { continue }
                let serious = tier == Tier.high.rawValue || tier == Tier.imminent.rawValue
                let within24 = serious ? followed(episode, within: .hours(24)) : nil
                let within72 = serious ? followed(episode, within: .hours(72)) : nil
                let contact = firstReached(episode.client, after: episode.at).flatMap {
                    $0 <= end.microseconds ? Double($0 - episode.at) / 3.6e9 : nil
                }
                tally(episode.at) {
                    if serious {
                        $0.episodeFollowUp24Hours.add(within24)
                        $0.episodeFollowUp72Hours.add(within72)
                    }
                    $0.addEpisode(hoursToContact: contact)
                }
            }

            var days: [String: SupervisorReport.Day] = [:]
            func day(_ time: Int64) -> String { ReportWeek.text(ofDay: ReportWeek.day(time)) }
            // Truth values as 1 or 0, the same on both stores; reasons matched whatever their case
            // (SQLite's LIKE ignores case, PostgreSQL's does not: `lower` makes them agree).
            let tasks = try session.fetchAll(
                """
                SELECT created_at, route, state, channel,
                    CASE WHEN lower(cancel_reason) LIKE 'superseded by %' THEN 1 ELSE 0 END, overdue_raised,
                    contact_attempts, kind, CASE WHEN \(SupervisorReport.endedForTheClient) THEN 1 ELSE 0 END, delivered_at,
                    CASE WHEN slot LIKE '\(CaringProgram.slotPrefix)%' THEN 1 ELSE 0 END
                FROM tasks
                """
            ) { row in
                (
                    created: row.int64(0), route: row.text(1) ?? "", state: row.text(2) ?? "",
                    channel: row.text(3) ?? "none", superseded: row.int64(4) == 1, overdue: row.int64(5) != 0,
                    attempts: row.int64(6), ended: row.int64(8) == 1, delivered: optional(row, 9),
                    programMessage: row.int64(10) == 1
                )
            }
            for task in tasks {
                let created = task.created
                guard inWindow(created) else { continue }
                let route = task.route
                let state = task.state
                let channel = task.channel
                let overdue = task.overdue
                let unreachable = task.attempts >= 3 && state != TaskState.resolved.rawValue
                let dead = state == TaskState.dead.rawValue
                let cancelled = state == TaskState.cancelled.rawValue
                let superseded = task.superseded
                let ended = task.ended
                // A program's message counts as sent in the window it was delivered in.
                if task.programMessage, let delivered = task.delivered, inWindow(delivered) {
                    tally(delivered) { $0.programs.contactsSent += 1 }
                }
                days[day(created), default: .init(day: day(created))].tasksByRoute[route, default: 0] += 1
                tally(created) {
                    $0.tasks.created += 1
                    $0.tasksByRoute[route, default: 0] += 1
                    if overdue { $0.tasks.overdue += 1 }
                    if unreachable { $0.tasks.unreachable += 1 }
                    if dead { $0.tasks.deadByChannel[channel, default: 0] += 1 }
                    if cancelled, superseded { $0.tasks.cancelledSuperseded += 1 }
                    if cancelled, ended { $0.tasks.cancelledEnded += 1 }
                    if cancelled, !superseded, !ended { $0.tasks.cancelledByPerson += 1 }
                }
            }
            let firings = try session.fetchAll(
                "SELECT e.at, v.fired FROM evaluations v JOIN events e ON e.seq = v.event_seq WHERE v.fired != ''"
            ) { ($0.int64(0), $0.text(1) ?? "") }
            for (at, fired) in firings {
                guard inWindow(at) else { continue }
                let rules = fired.split(separator: " ").map(String.init)
                for rule in rules {
                    days[day(at), default: .init(day: day(at))].firingsByRule[rule, default: 0] += 1
                }
                tally(at) {
                    for rule in rules { $0.firingsByRule[rule, default: 0] += 1 }
                }
            }
            report.days = days.keys.sorted().compactMap { days[$0] }
            let programs = try session.fetchAll(
                "SELECT started_at, stopped_at, CASE WHEN lower(stop_reason) LIKE 'opted out%' THEN 1 ELSE 0 END FROM programs"
            ) { (started: $0.int64(0), stopped: optional($0, 1), optedOut: $0.int64(2) == 1) }
            for (started, stopped, optedOut) in programs {
                if inWindow(started) { tally(started) { $0.programs.started += 1 } }
                if let stopped, inWindow(stopped), optedOut {
                    tally(stopped) { $0.programs.optedOut += 1 }
                }
            }

            report.followUp7Days = total.followUp7Days
            report.followUp30Days = total.followUp30Days
            report.episodeFollowUp24Hours = total.episodeFollowUp24Hours
            report.episodeFollowUp72Hours = total.episodeFollowUp72Hours
            report.escalationToFirstReachedContact = total.finishedDelay
            report.tasks = total.tasks
            report.programs = total.programs
            // Every week from the window's first day (or the first thing counted) to its last.
            let lastDay = ReportWeek.day(end.microseconds)
            let firstDay =
                from.map { ReportWeek.day($0.microseconds) } ?? (earliest == .max ? nil : ReportWeek.day(earliest))
            if let firstDay, firstDay <= lastDay {
                var monday = ReportWeek.monday(ofDay: firstDay)
                while monday <= lastDay {
                    let tally = weeks[monday] ?? ReportTally()
                    report.weeks.append(
                        SupervisorReport.Week(
                            week: ReportWeek.text(ofDay: monday),
                            days: Int(min(monday + 6, lastDay) - max(monday, firstDay) + 1),
                            followUp7Days: tally.followUp7Days, followUp30Days: tally.followUp30Days,
                            episodeFollowUp24Hours: tally.episodeFollowUp24Hours,
                            episodeFollowUp72Hours: tally.episodeFollowUp72Hours,
                            escalationToFirstReachedContact: tally.finishedDelay, tasks: tally.tasks,
                            programs: tally.programs,
                            firingsByRule: tally.firingsByRule, tasksByRoute: tally.tasksByRoute))
                    monday += 7
                }
            }
            return report
        }
    }
}

extension SupervisorReport {
    /// SQL true for a task the decision core cancelled for the client's sake (see `Tasks.cancelledEnded`).
    static let endedForTheClient = """
        (lower(cancel_reason) LIKE 'unreachable after %' OR lower(cancel_reason) LIKE 'follow-up ended: %'
            OR lower(cancel_reason) LIKE 'opted out %' OR lower(cancel_reason) LIKE 'the client''s plan declines %')
        """
}
