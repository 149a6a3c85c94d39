import VigilCore

/// What `vigil replay` prints: the candidate pack's load on the team, per rule, and its lead time
/// against outcomes; with `--against`, how it differs from the other pack. Pseudonymous client ids
/// only where the comparison names clients; never the note.
public struct ReplaySummary: Encodable, Sendable {
    /// The load of one day (UTC, by when the daemon would have acted).
    public struct Day: Encodable, Sendable {
        public var day: String
        public var escalations: [String: Int] = [:]
        /// Escalations by each risk domain that rose in them (a rise of two domains counts in both).
        public var escalationsByDomain: [String: Int] = [:]
        public var tasksByKind: [String: Int] = [:]
        public var tasksByRoute: [String: Int] = [:]
        /// Tasks by the domain whose plan wrote them (`aftercare`: the caring-contact program, plan
        /// reviews and the other tasks no domain's plan writes).
        public var tasksByDomain: [String: Int] = [:]

        enum CodingKeys: String, CodingKey {
            case day, escalations
            case escalationsByDomain = "escalations_by_domain"
            case tasksByKind = "tasks_by_kind"
            case tasksByRoute = "tasks_by_route"
            case tasksByDomain = "tasks_by_domain"
        }
    }

    /// How often a rule fired in the window, and in how many rises it was decisive (without its
    /// firings the score stayed below the tier reached).
    public struct RuleCount: Encodable, Sendable {
        public var rule: String
        public var fired: Int
        public var decisive: Int
    }

    /// For each overdose, ED visit or crisis call in the window: whether the client's evaluated tier
    /// rose from low to moderate or above in the 30 days before it (at a check-in or a silence
    /// observed strictly before it), and how long before (hours, from the latest such rise).
    public struct LeadTime: Encodable, Sendable {
        public var outcomes: Int
        public var raisedBefore: Int
        public var notRaised: Int
        @NullWhenAbsent public var medianHours: Double?
        /// Outcomes by lead time: `<24h`, `1-3d`, `3-7d`, `7-14d`, `14-30d`, `none`.
        public var distribution: [String: Int]
        public var byKind: [String: Int]

        enum CodingKeys: String, CodingKey {
            case outcomes, distribution
            case raisedBefore = "raised_before"
            case notRaised = "not_raised"
            case medianHours = "median_hours"
            case byKind = "by_kind"
        }
    }

    /// The burden figure: escalations (episodes opened or raised) followed by no overdose, ED visit
    /// or crisis call of the client within 30 days of the observation that raised them (an outcome
    /// observed at that instant, such as the one that raised it, counts as following it).
    /// Escalations with less than 30 days of history after them are left out (`too_recent`).
    public struct Burden: Encodable, Sendable {
        public var escalations: Int
        public var followedByNoOutcome: Int
        public var tooRecent: Int
        @NullWhenAbsent public var share: Double?

        enum CodingKeys: String, CodingKey {
            case escalations, share
            case followedByNoOutcome = "followed_by_no_outcome"
            case tooRecent = "too_recent"
        }
    }

    /// One pack's figures.
    public struct Figures: Encodable, Sendable {
        public var escalations: Int
        public var tasks: Int
        public var days: [Day]
        public var rules: [RuleCount]
        public var leadTime: LeadTime
        public var burden: Burden

        enum CodingKeys: String, CodingKey {
            case escalations, tasks, days, rules, burden
            case leadTime = "lead_time"
        }
    }

    /// A client escalated by both packs, first at different times: positive hours when the
    /// candidate escalated earlier.
    public struct Shift: Encodable, Sendable {
        public var client: String
        public var hoursEarlier: Double

        enum CodingKeys: String, CodingKey {
            case client
            case hoursEarlier = "hours_earlier"
        }
    }

    /// The candidate against the other pack, over the same window.
    public struct Comparison: Encodable, Sendable {
        public var rules: String
        public var against: Figures
        /// Clients escalated (in the window) by the candidate only, and by the other pack only.
        public var onlyCandidate: [String]
        public var onlyAgainst: [String]
        /// Clients whose first escalation in the window came earlier or later with the candidate.
        public var earlier: [Shift]
        public var later: [Shift]
        /// Tasks (by id: client, episode and slot) the candidate plans and the other does not, and
        /// the reverse, with their counts by kind.
        public var tasksGained: Int
        public var tasksLost: Int
        public var gainedByKind: [String: Int]
        public var lostByKind: [String: Int]

        enum CodingKeys: String, CodingKey {
            case rules, against, earlier, later
            case onlyCandidate = "only_candidate"
            case onlyAgainst = "only_against"
            case tasksGained = "tasks_gained"
            case tasksLost = "tasks_lost"
            case gainedByKind = "gained_by_kind"
            case lostByKind = "lost_by_kind"
        }
    }

    /// Every decision of the candidate, as the daemon would have stored it (`--decisions`): times
    /// in microseconds since the epoch, scores unrounded.
    public struct Decisions: Encodable, Sendable {
        public struct Evaluation: Encodable, Sendable {
            public var seq: Int64
            public var fired: String
            public var score: Double
            public var tier: String
        }
        public struct Task: Encodable, Sendable {
            public var id: String
            public var client: String
            public var kind: String
            public var tier: String
            public var route: String
            public var createdAt: Int64
            public var deliverAt: Int64
            public var due: Int64

            enum CodingKeys: String, CodingKey {
                case id, client, kind, tier, route, due
                case createdAt = "created_at"
                case deliverAt = "deliver_at"
            }
        }
        /// An episode opened or raised, with the observation it followed.
        public struct Escalation: Encodable, Sendable {
            public var client: String
            public var episode: Int
            public var tier: String
            public var opened: Bool
            public var detectedAt: Int64
            public var observedAt: Int64
            public var decisive: [String]

            enum CodingKeys: String, CodingKey {
                case client, episode, tier, opened, decisive
                case detectedAt = "detected_at"
                case observedAt = "observed_at"
            }
        }
        public var evaluations: [Evaluation]
        public var escalations: [Escalation]
        public var tasks: [Task]
        public var superseded: [String]
    }

    public var rules: String
    @NullWhenAbsent public var from: String?
    @NullWhenAbsent public var to: String?
    @NullWhenAbsent public var client: String?
    public var checkIns: Int
    public var clients: Int
    public var undecodable: Int
    public var seconds: Double
    public var checkInsPerMinute: Double
    public var candidate: Figures
    @NullWhenAbsent public var comparison: Comparison?
    public var decisions: Decisions?

    public init(
        rules: String, from: String?, to: String?, client: String?, checkIns: Int, clients: Int, undecodable: Int,
        seconds: Double, checkInsPerMinute: Double, candidate: Figures, comparison: Comparison?,
        decisions: Decisions?
    ) {
        self.rules = rules
        self.from = from
        self.to = to
        self.client = client
        self.checkIns = checkIns
        self.clients = clients
        self.undecodable = undecodable
        self.seconds = seconds
        self.checkInsPerMinute = checkInsPerMinute
        self.candidate = candidate
        self.comparison = comparison
        self.decisions = decisions
    }

    enum CodingKeys: String, CodingKey {
        case rules, from, to, client, undecodable, seconds, candidate, comparison, decisions, clients
        case checkIns = "check_ins"
        case checkInsPerMinute = "check_ins_per_minute"
    }
}

/// The window a summary counts: observations and detections in `[from, to]`.
public struct ReplayWindow: Sendable {
    public var from: Timestamp?
    public var to: Timestamp?

    public init(from: Timestamp?, to: Timestamp?) {
        self.from = from
        self.to = to
    }

    func contains(_ time: Timestamp) -> Bool {
        from.map { time >= $0 } ?? true && to.map { time <= $0 } ?? true
    }
}

extension ReplayRun {
    /// Lead time and burden look 30 days around each outcome and escalation.
    static let outcomeWindow = TimeSpan.days(30)

    /// This run's figures over `window`; `end` is the last instant the history covers.
    public func figures(in window: ReplayWindow, end: Timestamp) -> ReplaySummary.Figures {
        let escalations = self.escalations.filter { window.contains($0.detectedAt) }
        let tasks = self.tasks.filter { window.contains($0.createdAt) }
        var days: [String: ReplaySummary.Day] = [:]
        func day(_ time: Timestamp) -> String { String(time.description.prefix(10)) }
        for escalation in escalations {
            let key = day(escalation.detectedAt)
            var entry = days[key] ?? .init(day: key)
            entry.escalations[escalation.tier.rawValue, default: 0] += 1
            for domain in escalation.domains { entry.escalationsByDomain[domain, default: 0] += 1 }
            days[key] = entry
        }
        for task in tasks {
            let key = day(task.createdAt)
            var entry = days[key] ?? .init(day: key)
            entry.tasksByKind[task.task.kind.rawValue, default: 0] += 1
            entry.tasksByRoute[task.task.route, default: 0] += 1
            entry.tasksByDomain[task.task.domain ?? "aftercare", default: 0] += 1
            days[key] = entry
        }
        var fired: [String: Int] = [:]
        for firing in self.fired where window.contains(firing.at) { fired[firing.rule, default: 0] += 1 }
        var decisive: [String: Int] = [:]
        for escalation in escalations {
            for rule in escalation.decisive { decisive[rule, default: 0] += 1 }
        }
        let rules = Set(fired.keys).union(decisive.keys).sorted().map {
            ReplaySummary.RuleCount(rule: $0, fired: fired[$0] ?? 0, decisive: decisive[$0] ?? 0)
        }
        return ReplaySummary.Figures(
            escalations: escalations.count, tasks: tasks.count, days: days.keys.sorted().compactMap { days[$0] },
            rules: rules, leadTime: leadTime(in: window), burden: burden(of: escalations, end: end))
    }

    /// See `ReplaySummary.LeadTime`.
    func leadTime(in window: ReplayWindow) -> ReplaySummary.LeadTime {
        var lead = ReplaySummary.LeadTime(
            outcomes: 0, raisedBefore: 0, notRaised: 0, medianHours: nil, distribution: [:], byKind: [:])
        var hours: [Double] = []
        for outcome in outcomes where window.contains(outcome.at) {
            lead.outcomes += 1
            lead.byKind[outcome.kind.rawValue, default: 0] += 1
            let since = outcome.at.adding(TimeSpan(microseconds: -Self.outcomeWindow.microseconds))
            let latest = (elevations[outcome.client] ?? []).filter { $0 < outcome.at && $0 >= since }.max()
            guard let latest else {
                lead.notRaised += 1
                lead.distribution["none", default: 0] += 1
                continue
            }
            lead.raisedBefore += 1
            let span = Double(outcome.at.microseconds - latest.microseconds) / 3.6e9
            hours.append(span)
            let bucket =
                switch span {
                case ..<24: "<24h"
                case ..<72: "1-3d"
                case ..<168: "3-7d"
                case ..<336: "7-14d"
                default: "14-30d"
                }
            lead.distribution[bucket, default: 0] += 1
        }
        lead.medianHours = Quantiles.median(hours.sorted())
        return lead
    }

    /// See `ReplaySummary.Burden`.
    func burden(of escalations: [Escalation], end: Timestamp) -> ReplaySummary.Burden {
        let outcomes = Dictionary(grouping: self.outcomes, by: \.client)
        var burden = ReplaySummary.Burden(escalations: 0, followedByNoOutcome: 0, tooRecent: 0, share: nil)
        for escalation in escalations {
            let until = escalation.observedAt.adding(Self.outcomeWindow)
            guard until <= end else {
                burden.tooRecent += 1
                continue
            }
            burden.escalations += 1
            let followed = (outcomes[escalation.client] ?? []).contains {
                $0.at >= escalation.observedAt && $0.at <= until
            }
            if !followed { burden.followedByNoOutcome += 1 }
        }
        if burden.escalations > 0 {
            burden.share = Double(burden.followedByNoOutcome) / Double(burden.escalations)
        }
        return burden
    }

    /// This run's decisions, as the daemon would have stored them.
    public var decisions: ReplaySummary.Decisions {
        ReplaySummary.Decisions(
            evaluations: evaluations.sorted { $0.seq < $1.seq }.map {
                .init(seq: $0.seq, fired: $0.fired.joined(separator: " "), score: $0.score, tier: $0.tier.rawValue)
            },
            escalations: escalations.map {
                .init(
                    client: $0.client, episode: $0.episode, tier: $0.tier.rawValue, opened: $0.opened,
                    detectedAt: $0.detectedAt.microseconds, observedAt: $0.observedAt.microseconds,
                    decisive: $0.decisive)
            },
            tasks: tasks.map {
                .init(
                    id: $0.task.id, client: $0.task.client, kind: $0.task.kind.rawValue, tier: $0.task.tier.rawValue,
                    route: $0.task.route, createdAt: $0.createdAt.microseconds,
                    deliverAt: $0.task.deliverAt.microseconds, due: $0.task.due.microseconds)
            }, superseded: superseded)
    }

    /// The candidate (`self`) against `other` over `window`.
    public func compared(
        with other: ReplayRun, rules: String, in window: ReplayWindow, end: Timestamp
    ) -> ReplaySummary.Comparison {
        func firsts(_ run: ReplayRun) -> [String: Timestamp] {
            var first: [String: Timestamp] = [:]
            for escalation in run.escalations where window.contains(escalation.detectedAt) {
                first[escalation.client] = min(first[escalation.client] ?? escalation.observedAt, escalation.observedAt)
            }
            return first
        }
        let mine = firsts(self)
        let theirs = firsts(other)
        var earlier: [ReplaySummary.Shift] = []
        var later: [ReplaySummary.Shift] = []
        for (client, time) in mine {
            guard let other = theirs[client], other != time else { continue }
            let shift = ReplaySummary.Shift(
                client: client, hoursEarlier: Double(other.microseconds - time.microseconds) / 3.6e9)
            if shift.hoursEarlier > 0 { earlier.append(shift) } else { later.append(shift) }
        }
        func tasks(_ run: ReplayRun) -> [String: TaskKind] {
            Dictionary(
                run.tasks.filter { window.contains($0.createdAt) }.map { ($0.task.id, $0.task.kind) },
                uniquingKeysWith: { first, _ in first })
        }
        let candidateTasks = tasks(self)
        let otherTasks = tasks(other)
        let gained = candidateTasks.filter { otherTasks[$0.key] == nil }
        let lost = otherTasks.filter { candidateTasks[$0.key] == nil }
        func byKind(_ tasks: [String: TaskKind]) -> [String: Int] {
            Dictionary(grouping: tasks.values, by: \.rawValue).mapValues(\.count)
        }
        return ReplaySummary.Comparison(
            rules: rules, against: other.figures(in: window, end: end),
            onlyCandidate: mine.keys.filter { theirs[$0] == nil }.sorted(),
            onlyAgainst: theirs.keys.filter { mine[$0] == nil }.sorted(),
            earlier: earlier.sorted { $0.client < $1.client }, later: later.sorted { $0.client < $1.client },
            tasksGained: gained.count, tasksLost: lost.count, gainedByKind: byKind(gained), lostByKind: byKind(lost))
    }
}
