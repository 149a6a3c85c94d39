/// What a check-in that cannot be accepted may still be reporting: a crisis must never be refused
/// silently, so a refused file that reports one (a C-SSRS screening with any yes, an overdose, an
/// emergency-department visit, a crisis call) raises a task for the supervisors.
public struct CrisisContent: Equatable, Sendable {
    /// The client it names, when that part can be read and is a valid id.
    public let client: String?
    /// What it reports, for people: "a C-SSRS screening with a yes", "an overdose"…
    public let report: String

    /// The crisis a decoded check-in reports (for one refused as a conflict), if any.
    public init?(_ checkIn: CheckIn) {
        guard let report = Self.report(kind: checkIn.kind.rawValue, screeningYes: checkIn.screening.map(Self.anyYes))
        else { return nil }
        self.client = checkIn.client
        self.report = report
    }

    /// The crisis the bytes of a refused check-in report, if any. When they are JSON, its `kind` and
    /// `screening` are read whatever else is wrong; when they are not, a quoted crisis kind anywhere
    /// counts (a broken file that may report a crisis is worth a supervisor's look).
    public init?(bytes: [UInt8]) {
        if let value = try? StrictJSONParser.parse(bytes), case .object(let members) = value {
            func member(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }
            var kind: String?
            if case .string(let text)? = member("kind") { kind = text }
            var screeningYes: Bool?
            if case .object(let answers)? = member("screening") {
                screeningYes = answers.contains { $0.value == .bool(true) }
            }
            guard let report = Self.report(kind: kind ?? "", screeningYes: screeningYes) else { return nil }
            var client: String?
            if case .string(let text)? = member("client"), CheckInDecoder.isClientID(text) { client = text }
            self.client = client
            self.report = report
        } else {
            let text = String(decoding: bytes, as: UTF8.self)
            let kinds: [CheckIn.Kind] = [.overdose, .edVisit, .crisisCall, .screening]
            guard let kind = kinds.first(where: { text.contains("\"\($0.rawValue)\"") }) else { return nil }
            self.client = nil
            self.report =
                (Self.report(kind: kind.rawValue, screeningYes: nil)
                    ?? "a C-SSRS screening whose answers cannot be read")
                + " (the file is not valid JSON)"
        }
    }

    /// A screening reports a crisis when any answer is yes; an overdose, an ED visit and a crisis
    /// call always do.
    static func report(kind: String, screeningYes: Bool?) -> String? {
        if screeningYes == true { return "a C-SSRS screening with a yes" }
        switch CheckIn.Kind(rawValue: kind) {
        case .overdose: return "an overdose"
        case .edVisit: return "an emergency-department visit"
        case .crisisCall: return "a crisis call"
        default: return nil
        }
    }

    static func anyYes(_ screening: CheckIn.Screening) -> Bool {
        screening.wishDead || screening.suicidalThoughts || screening.method == true || screening.intent == true
            || screening.plan == true || screening.behaviorPast3Months
    }
}

extension CrisisContent {
    /// The route of the task a refused crisis raises (the supervisors, as for overdue outreach).
    public static let supervisorRoute = "supervisor"

    /// The task a refused check-in reporting this crisis raises: a high escalation to the
    /// supervisors, due now, one per refused content (`digest`), for the client it names (or
    /// `unknown`). The instruction names the content by its digest only: the file name and the
    /// refusal are outside text that may hold a name, and stay in the journal and in `rejected/`.
    public func supervisorTask(digest: String, at now: Timestamp) -> PlannedTask {
        PlannedTask(
            client: client ?? "unknown", episode: 0, slot: "refused:" + digest, kind: .escalation, tier: .high,
            route: Self.supervisorRoute,
            instruction:
                "A check-in reporting \(report) was refused and not scored (content \(digest.prefix(12))…: the file "
                + "and why are in the journal and in the spool's rejected/). Correct it, submit it again, and make sure "
                + "the client is reached today.",
            deliverAt: now, due: now)
    }
}
