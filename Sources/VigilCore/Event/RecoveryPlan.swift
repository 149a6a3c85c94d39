/// The client's own recovery plan, carried by a check-in of kind `plan` (the newest one wins): the
/// triggers and early warning signs chosen with the client, the support network, the recovery
/// pathways, and consent to caring contacts (seeds 001 and 002; Stanley & Brown's safety plan).
///
/// `coping` and `crisisSteps` are private free text, handled like a check-in's `note`: stored, and
/// printed nowhere (not in a log, an alert, a payload or any command's output).
public struct RecoveryPlan: Equatable, Sendable {
    /// The client's own external triggers: codes of the vocabulary's `stressors`.
    public var triggers: [String]
    /// The client's own early warning signs: codes of the vocabulary's `signs`.
    public var warningSigns: [String]
    public var support: [SupportEntry]
    public var pathways: [Pathway]
    public var caringContacts: CaringConsent
    public var coping: String?
    public var crisisSteps: String?

    public init(
        triggers: [String] = [], warningSigns: [String] = [], support: [SupportEntry] = [], pathways: [Pathway] = [],
        caringContacts: CaringConsent = CaringConsent(consent: false, channel: .none), coping: String? = nil,
        crisisSteps: String? = nil
    ) {
        self.triggers = triggers
        self.warningSigns = warningSigns
        self.support = support
        self.pathways = pathways
        self.caringContacts = caringContacts
        self.coping = coping
        self.crisisSteps = crisisSteps
    }

    /// A recovery pathway the client chose (seeds 001 and 003: many pathways, the client's choice).
    public enum Pathway: String, CaseIterable, Sendable {
        case clinical, peer
        case mutualHelp = "mutual_help"
        case selfManagement = "self_management"
        case faithBased = "faith_based"
        case other
    }

    /// One person of the support network, as a pseudonymous reference that the team's own directory
    /// resolves (never a name or a number), with how and when to reach them.
    public struct SupportEntry: Equatable, Sendable {
        public enum Role: String, CaseIterable, Sendable {
            case family, friend, peer, sponsor, counselor
            case caseManager = "case_manager"
            case prescriber, clinician, other
        }

        public enum Channel: String, CaseIterable, Sendable {
            case phone, text
            case inPerson = "in_person"
        }

        public var role: Role
        public var ref: String
        public var channel: Channel
        /// When they may be reached, as minutes of the local day (`09:00-21:00`; an end before the
        /// start spans midnight); nil: any time.
        public var hours: HourRange?

        public init(role: Role, ref: String, channel: Channel, hours: HourRange? = nil) {
            self.role = role
            self.ref = ref
            self.channel = channel
            self.hours = hours
        }
    }

    /// Whether, and how, the client wants caring contacts (`none`: not at all).
    public struct CaringConsent: Equatable, Sendable {
        public enum Channel: String, CaseIterable, Sendable {
            case text, phone, letter, none
        }

        public var consent: Bool
        public var channel: Channel

        public init(consent: Bool, channel: Channel) {
            self.consent = consent
            self.channel = channel
        }

        /// Whether caring contacts may be sent.
        public var allowsContacts: Bool { consent && channel != .none }
    }
}

/// A daily span of local time, `HH:MM-HH:MM`; an end before the start spans midnight.
public struct HourRange: Equatable, Sendable, CustomStringConvertible {
    /// Minutes after midnight.
    public var start: Int
    public var end: Int

    /// Parses `09:00-21:00`; nil for anything else.
    public init?(text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Self.minutes(parts[0]), let end = Self.minutes(parts[1]), start != end
        else { return nil }
        self.start = start
        self.end = end
    }

    /// `HH:MM` as minutes after midnight (up to 24:00); nil for anything else.
    public static func minutes(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]),
            let minute = Int(parts[1]), (0...24).contains(hour), (0..<60).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }

    /// Whether `minute` (after local midnight) falls in the span.
    public func contains(minuteOfDay minute: Int) -> Bool {
        start < end ? (start..<end).contains(minute) : minute >= start || minute < end
    }

    public var description: String {
        func clock(_ minutes: Int) -> String {
            let hour = minutes / 60
            let minute = minutes % 60
            return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
        }
        return "\(clock(start))-\(clock(end))"
    }
}
