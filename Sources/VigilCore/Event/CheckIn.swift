/// One observation about a client: the unit Vigil ingests, stores and (later) evaluates.
///
/// Schema v1; field names are the contract documented in `docs/checkin.schema.json`.
/// `note` is private clinical text: it is stored, and nothing else may print it.
public struct CheckIn: Equatable, Sendable {
    public var id: String
    public var client: String
    public var at: Timestamp
    public var kind: Kind
    public var source: Source
    /// Measures in document order, each declared in `vocabulary.yaml` with its range.
    public var measures: [(name: String, value: Double)] {
        didSet { known = KnownMeasures(measures) }
    }
    /// The known measures' values, kept beside `measures` so rules read them without a name lookup.
    public private(set) var known: KnownMeasures
    public var signs: [String]
    public var stressors: [String]
    public var protective: [String]
    public var screening: Screening?
    public var contact: Contact?
    /// A person's act on a task (`kind: take` or `ack`).
    public var action: Action?
    /// The client's recovery plan (`kind: plan` only); its `coping` and `crisis_steps` are private
    /// like `note`.
    public var plan: RecoveryPlan?
    public var note: String?

    public init(
        id: String, client: String, at: Timestamp, kind: Kind, source: Source,
        measures: [(name: String, value: Double)] = [], signs: [String] = [], stressors: [String] = [],
        protective: [String] = [], screening: Screening? = nil, contact: Contact? = nil, action: Action? = nil,
        plan: RecoveryPlan? = nil, note: String? = nil
    ) {
        self.id = id
        self.client = client
        self.at = at
        self.kind = kind
        self.source = source
        self.measures = measures
        self.known = KnownMeasures(measures)
        self.signs = signs
        self.stressors = stressors
        self.protective = protective
        self.screening = screening
        self.contact = contact
        self.action = action
        self.plan = plan
        self.note = note
    }

    public static func == (lhs: CheckIn, rhs: CheckIn) -> Bool {
        lhs.id == rhs.id && lhs.client == rhs.client && lhs.at == rhs.at && lhs.kind == rhs.kind
            && lhs.source == rhs.source && lhs.measures.map(\.name) == rhs.measures.map(\.name)
            && lhs.measures.map(\.value) == rhs.measures.map(\.value) && lhs.signs == rhs.signs
            && lhs.stressors == rhs.stressors && lhs.protective == rhs.protective
            && lhs.screening == rhs.screening && lhs.contact == rhs.contact && lhs.action == rhs.action
            && lhs.plan == rhs.plan
            && lhs.note == rhs.note
    }

    /// The value of a measure, if reported.
    public func measure(_ name: String) -> Double? { measures.first { $0.name == name }?.value }

    /// What kind of encounter produced the check-in.
    public enum Kind: String, CaseIterable, Sendable {
        case checkin, contact, screening
        case missedAppointment = "missed_appointment"
        case crisisCall = "crisis_call"
        case discharge
        case edVisit = "ed_visit"
        case overdose
        /// The client's recovery plan (`plan`), made or reviewed with them.
        case plan
        /// A person took a task (`take`: "I'm on it") or acknowledged it (`ack`: handled, resolved).
        /// Stored as the audit trail of who acted; the rules never read them.
        case take, ack

        /// Whether it is a person's act on a task rather than an observation of the client.
        public var isTaskAction: Bool { self == .take || self == .ack }
    }

    /// Who reported it.
    public enum Source: String, CaseIterable, Sendable {
        case `self`, peer, counselor, clinician, family, other
        case caseManager = "case_manager"
        case crisisLine = "crisis_line"
    }

    /// C-SSRS screener answers (Columbia Protocol, six yes/no questions). A `nil` answer was not asked:
    /// questions 3–5 are only asked after a yes to question 2.
    public struct Screening: Equatable, Sendable {
        /// The answers' names in check-ins and rules, in the screener's order.
        public static let answers = [
            "wish_dead", "suicidal_thoughts", "method", "intent", "plan", "behavior_past_3_months",
        ]

        public var wishDead: Bool
        public var suicidalThoughts: Bool
        public var method: Bool?
        public var intent: Bool?
        public var plan: Bool?
        public var behaviorPast3Months: Bool

        public init(
            wishDead: Bool, suicidalThoughts: Bool, method: Bool? = nil, intent: Bool? = nil, plan: Bool? = nil,
            behaviorPast3Months: Bool
        ) {
            self.wishDead = wishDead
            self.suicidalThoughts = suicidalThoughts
            self.method = method
            self.intent = intent
            self.plan = plan
            self.behaviorPast3Months = behaviorPast3Months
        }
    }

    /// The outcome of an outreach attempt (`kind: contact`), optionally naming the task it answers.
    public struct Contact: Equatable, Sendable {
        public enum Outcome: String, CaseIterable, Sendable {
            case reached, declined
            case noAnswer = "no_answer"
            case leftMessage = "left_message"
            /// The client attended care (an appointment, a group): follow-up of the episode ends.
            case engaged
            /// The client asked for no more caring contacts: the program stops.
            case optedOut = "opted_out"

            /// An attempt that did not reach the client (it counts toward `unreachable`).
            public var isMissed: Bool { self == .noAnswer || self == .leftMessage }
        }
        public var outcome: Outcome
        public var task: String?
        /// Who made the contact (an API token's name, `link:TASK`, or `--by`); nil when not said.
        public var by: String?

        public init(outcome: Outcome, task: String? = nil, by: String? = nil) {
            self.outcome = outcome
            self.task = task
            self.by = by
        }
    }

    /// A person's act on a task (`kind: take` or `ack`): which task, and who.
    public struct Action: Equatable, Sendable {
        public var task: String
        public var by: String

        public init(task: String, by: String) {
            self.task = task
            self.by = by
        }
    }
}

/// The values of the measures schema v1 knows, one slot each (nil when not reported).
public struct KnownMeasures: Equatable, Sendable {
    /// The known measures, by their names in check-ins.
    public enum Name: String, CaseIterable, Sendable {
        case mood, craving, stress
        case sleepHours = "sleep_hours"
    }

    public var mood: Double?
    public var craving: Double?
    public var stress: Double?
    public var sleepHours: Double?

    init(_ measures: [(name: String, value: Double)]) {
        for (name, value) in measures {
            guard let known = Name(rawValue: name), self[known] == nil else { continue }
            self[known] = value
        }
    }

    public subscript(name: Name) -> Double? {
        get {
            switch name {
            case .mood: return mood
            case .craving: return craving
            case .stress: return stress
            case .sleepHours: return sleepHours
            }
        }
        set {
            switch name {
            case .mood: mood = newValue
            case .craving: craving = newValue
            case .stress: stress = newValue
            case .sleepHours: sleepHours = newValue
            }
        }
    }

    /// A reader of a known measure's slot, or nil for any other name.
    public static func slot(_ name: String) -> (@Sendable (KnownMeasures) -> Double?)? {
        switch Name(rawValue: name) {
        case .mood: return { $0.mood }
        case .craving: return { $0.craving }
        case .stress: return { $0.stress }
        case .sleepHours: return { $0.sleepHours }
        case nil: return nil
        }
    }
}
