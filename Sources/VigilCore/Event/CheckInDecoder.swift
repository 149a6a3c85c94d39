import Crypto

/// A check-in that passed validation, with the SHA-256 of the bytes it came from.
public struct DecodedCheckIn: Sendable {
    public let checkIn: CheckIn
    /// Hex SHA-256 of the input bytes; the event id when the input has none, and the content
    /// fingerprint that tells a harmless replay from a different check-in reusing an id.
    public let digest: String
}

/// Turns the bytes of one check-in into a validated `CheckIn`, or `CheckInErrors`: every problem
/// found, each naming its field.
///
/// Pure: the vocabulary and "now" (for the future-time check) are passed in.
public struct CheckInDecoder: Sendable {
    /// The largest `.json` spool file, and the longest `.jsonl` line, in bytes.
    public static let maxEventBytes = 64 * 1024
    /// The longest `note`, in UTF-8 bytes.
    public static let maxNoteBytes = 4 * 1024
    /// How far in the future `at` may be, to allow for skewed clocks of writers.
    public static let maxFutureSkew = TimeSpan.minutes(5)
    /// The earliest acceptable `at` (2000-01-01T00:00:00Z): anything older is a broken clock or field.
    public static let earliest = Timestamp(seconds: 946_684_800)
    /// The top-level fields of schema v1.
    public static let fields: Set<String> = [
        "id", "client", "at", "kind", "source", "measures", "signs", "stressors", "protective", "screening",
        "contact", "action", "plan", "note",
    ]

    /// The codes accepted; nil only for `stored`, which re-reads events accepted earlier.
    public let vocabulary: Vocabulary?

    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    private init() { vocabulary = nil }

    /// Re-reads check-ins that were validated when they were stored: their codes and measures are not
    /// checked against today's vocabulary (it may have changed since), their time against today's
    /// clock, nor their screening against checks added since.
    public static let stored = CheckInDecoder()

    /// A stored check-in's body decoded again (by `stored`); nil if it no longer decodes.
    public func decodeStored(_ body: String) -> CheckIn? {
        try? decode(Array(body.utf8), now: Timestamp(microseconds: .max / 2)).checkIn
    }

    public func decode(_ bytes: [UInt8], now: Timestamp) throws(CheckInErrors) -> DecodedCheckIn {
        try bytes.withUnsafeBufferPointer { buffer throws(CheckInErrors) in try decode(buffer, now: now) }
    }

    public func decode(_ bytes: UnsafeBufferPointer<UInt8>, now: Timestamp) throws(CheckInErrors) -> DecodedCheckIn {
        guard bytes.count <= Self.maxEventBytes else {
            throw CheckInErrors(CheckInError(field: nil, "larger than \(Self.maxEventBytes) bytes (\(bytes.count))"))
        }
        // ASCII (the common case) is valid UTF-8; only other input needs the full check.
        guard bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil else {
            throw CheckInErrors(CheckInError(field: nil, "not valid UTF-8"))
        }
        let value: JSONValue
        do {
            value = try StrictJSONParser.parse(bytes)
        } catch {
            throw CheckInErrors(CheckInError(field: nil, "not valid JSON: \(error)"))
        }
        let digest = sha256Hex(bytes)
        let checkIn = try decode(value, defaultID: digest, now: now)
        return DecodedCheckIn(checkIn: checkIn, digest: digest)
    }

    /// Validates a parsed value; `defaultID` is used when the input has no `id`. Throws every
    /// problem found (up to `CheckInErrors.limit`), each naming its field.
    public func decode(_ value: JSONValue, defaultID: String, now: Timestamp) throws(CheckInErrors) -> CheckIn {
        guard case .object(let members) = value else {
            throw CheckInErrors(CheckInError(field: nil, "must be a JSON object, not \(value.typeDescription)"))
        }
        // Empty (and so never allocated) unless the check-in is refused.
        var problems = CheckInErrors()
        var fields = Fields()
        for member in members where !fields.set(member.key, member.value) {
            problems.append(
                CheckInError(
                    field: Self.quoted(member.key),
                    "unknown field (schema v1 has: \(Self.fields.sorted().joined(separator: ", ")))"))
        }

        var id: String? = defaultID
        if let value = fields.id { id = problems.check { () throws(CheckInError) in try Self.eventID(value) } }
        let client = problems.check { () throws(CheckInError) in try Self.clientID(fields.client) }
        let at = problems.check { () throws(CheckInError) in try Self.time(fields.at, now: now) }
        let kind: CheckIn.Kind? = problems.check { () throws(CheckInError) in
            try Self.enumeration(fields.kind, field: "kind")
        }
        let source: CheckIn.Source? = problems.check { () throws(CheckInError) in
            try Self.enumeration(fields.source, field: "source")
        }
        let measures = self.measures(fields.measures, into: &problems)
        let signs = codes(fields.signs, list: .signs, into: &problems)
        let stressors = codes(fields.stressors, list: .stressors, into: &problems)
        let protective = codes(fields.protective, list: .protective, into: &problems)
        var screening: CheckIn.Screening?
        if let value = fields.screening { screening = self.screening(value, into: &problems) }
        if kind == .screening, fields.screening == nil {
            problems.append(CheckInError(field: "screening", "required when kind is screening"))
        }
        var contact: CheckIn.Contact?
        if let value = fields.contact {
            contact = problems.check { () throws(CheckInError) in try Self.contact(value) }
        }
        if kind == .contact, fields.contact == nil {
            problems.append(CheckInError(field: "contact", "required when kind is contact"))
        }
        if let kind, kind != .contact, fields.contact != nil {
            problems.append(
                CheckInError(field: "contact", "only allowed when kind is contact (kind is \(kind.rawValue))"))
        }
        var action: CheckIn.Action?
        if let value = fields.action {
            action = problems.check { () throws(CheckInError) in try Self.action(value) }
        }
        if let kind, kind.isTaskAction, fields.action == nil {
            problems.append(CheckInError(field: "action", "required when kind is \(kind.rawValue)"))
        }
        if let kind, !kind.isTaskAction, fields.action != nil {
            problems.append(
                CheckInError(field: "action", "only allowed when kind is take or ack (kind is \(kind.rawValue))"))
        }
        var plan: RecoveryPlan?
        if let value = fields.plan { plan = self.plan(value, into: &problems) }
        if kind == .plan, fields.plan == nil {
            problems.append(CheckInError(field: "plan", "required when kind is plan"))
        }
        if let kind, kind != .plan, fields.plan != nil {
            problems.append(CheckInError(field: "plan", "only allowed when kind is plan (kind is \(kind.rawValue))"))
        }
        var note: String?
        if let value = fields.note {
            note = problems.check { () throws(CheckInError) in try Self.privateText(value, field: "note") }
        }
        guard problems.isEmpty, let id, let client, let at, let kind, let source else { throw problems }
        return CheckIn(
            id: id, client: client, at: at, kind: kind, source: source, measures: measures, signs: signs,
            stressors: stressors, protective: protective, screening: screening, contact: contact, action: action,
            plan: plan, note: note)
    }

    // MARK: - Fields

    /// The top-level members by name, without hashing (a check-in has at most a dozen).
    struct Fields {
        var id, client, at, kind, source, measures, signs, stressors, protective, screening, contact, action,
            plan, note: JSONValue?

        /// Stores `value` under `key`; false for a key schema v1 does not have.
        mutating func set(_ key: String, _ value: JSONValue) -> Bool {
            switch key {
            case "id": id = value
            case "client": client = value
            case "at": at = value
            case "kind": kind = value
            case "source": source = value
            case "measures": measures = value
            case "signs": signs = value
            case "stressors": stressors = value
            case "protective": protective = value
            case "screening": screening = value
            case "contact": contact = value
            case "action": action = value
            case "plan": plan = value
            case "note": note = value
            default: return false
            }
            return true
        }
    }

    static func eventID(_ value: JSONValue) throws(CheckInError) -> String {
        guard case .string(let id) = value else {
            throw CheckInError(field: "id", "must be a string, not \(value.typeDescription)")
        }
        guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw CheckInError(field: "id", "must be 1–128 printable ASCII characters without spaces")
        }
        return id
    }

    static func clientID(_ value: JSONValue?) throws(CheckInError) -> String {
        guard let value else { throw CheckInError(field: "client", "required") }
        guard case .string(let client) = value else {
            throw CheckInError(field: "client", "must be a string, not \(value.typeDescription)")
        }
        guard isClientID(client) else {
            throw CheckInError(field: "client", "must match [A-Za-z0-9._-]{1,64} (a pseudonymous id, never a name)")
        }
        return client
    }

    /// Whether `text` is a well-formed pseudonymous client id: `[A-Za-z0-9._-]{1,64}`.
    public static func isClientID(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { c in
                (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            }
    }

    static func time(_ value: JSONValue?, now: Timestamp) throws(CheckInError) -> Timestamp {
        guard let value else { throw CheckInError(field: "at", "required") }
        guard case .string(let text) = value else {
            throw CheckInError(field: "at", "must be an RFC 3339 string, not \(value.typeDescription)")
        }
        let at: Timestamp
        do {
            at = try RFC3339.parse(text)
        } catch {
            throw CheckInError(field: "at", "not an RFC 3339 date-time: \(error.problem)")
        }
        guard at <= now.adding(maxFutureSkew) else {
            throw CheckInError(field: "at", "\(text) is more than 5 minutes in the future (now is \(now))")
        }
        guard at >= earliest else { throw CheckInError(field: "at", "\(text) is before 2000-01-01") }
        return at
    }

    static func enumeration<E: RawRepresentable & CaseIterable>(
        _ value: JSONValue?, field: String
    ) throws(CheckInError) -> E where E.RawValue == String {
        if case .string(let text) = value, let result = E(rawValue: text) { return result }
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        guard value != nil else { throw CheckInError(field: field, "required (one of \(allowed))") }
        throw CheckInError(field: field, "must be one of \(allowed)")
    }

    /// The measures, each declared in the vocabulary and within its range (any finite number for
    /// `stored`); every other one is a problem recorded in `problems`.
    func measures(_ value: JSONValue?, into problems: inout CheckInErrors) -> [(name: String, value: Double)] {
        guard let value else { return [] }
        guard case .object(let members) = value else {
            problems.append(
                CheckInError(field: "measures", "must be an object of numbers, not \(value.typeDescription)"))
            return []
        }
        var result: [(name: String, value: Double)] = []
        result.reserveCapacity(members.count)
        for (name, member) in members {
            // The field's name is only built for an error (this runs for every measure of every check-in).
            var field: String { "measures.\(Self.quoted(name))" }
            guard Self.isSnakeCase(name) else {
                problems.append(CheckInError(field: field, "measure names are snake_case"))
                continue
            }
            guard case .number(let number) = member else {
                problems.append(CheckInError(field: field, "must be a number, not \(member.typeDescription)"))
                continue
            }
            if let vocabulary {
                guard let declared = vocabulary.measures[name] else {
                    let hint = vocabulary.measureSuggestion(for: name).map { "; did you mean \($0)?" } ?? ""
                    problems.append(
                        CheckInError(field: field, "unknown measure \(name) (not declared in vocabulary.yaml)\(hint)"))
                    continue
                }
                guard declared.range.contains(number) else {
                    let range = "\(Self.format(declared.range.lowerBound))–\(Self.format(declared.range.upperBound))"
                    problems.append(
                        CheckInError(field: field, "\(number) is out of range \(range) (\(declared.unit))"))
                    continue
                }
            }
            result.append((name, number))
        }
        return result
    }

    /// The codes of `list`, each snake_case, listed once and (but for `stored`) in the vocabulary;
    /// every other one is a problem recorded in `problems`.
    func codes(
        _ value: JSONValue?, list: Vocabulary.List, field name: String? = nil, into problems: inout CheckInErrors
    ) -> [String] {
        guard let value else { return [] }
        let name = name ?? list.rawValue
        guard case .array(let elements) = value else {
            problems.append(
                CheckInError(field: name, "must be an array of codes, not \(value.typeDescription)"))
            return []
        }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        // The codes already reported as repeated (each once, at its first repeat).
        var repeated: [String] = []
        for (index, element) in elements.enumerated() {
            // The field's name is only built for an error (this runs for every code of every check-in).
            var field: String { "\(name)[\(index)]" }
            guard case .string(let code) = element else {
                problems.append(CheckInError(field: field, "must be a string code, not \(element.typeDescription)"))
                continue
            }
            guard Self.isSnakeCase(code) else {
                problems.append(CheckInError(field: field, "not a snake_case code"))
                continue
            }
            if let vocabulary, !vocabulary.contains(code, in: list) {
                let hint = vocabulary.suggestion(for: code, in: list).map { "; did you mean \($0)?" } ?? ""
                problems.append(CheckInError(field: field, "unknown code \(code)\(hint)"))
                continue
            }
            guard !result.contains(code) else {
                if !repeated.contains(code) {
                    repeated.append(code)
                    problems.append(CheckInError(field: field, "code \(code) is listed more than once"))
                }
                continue
            }
            result.append(code)
        }
        return result
    }

    /// The C-SSRS screener's answers; nil, with every problem recorded in `problems`, when they are
    /// not a screener's. Questions 3–5 (method, intent, plan) are asked only after a yes to question 2
    /// (suicidal thoughts), so a yes to one of them after a no to question 2 is refused, naming it
    /// (not by `stored`: check-ins stored before that check are read as they were accepted).
    func screening(_ value: JSONValue, into problems: inout CheckInErrors) -> CheckIn.Screening? {
        let keys = CheckIn.Screening.answers
        guard case .object(let members) = value else {
            problems.append(CheckInError(field: "screening", "must be an object, not \(value.typeDescription)"))
            return nil
        }
        var answers: [String: Bool] = [:]
        for (key, member) in members {
            guard keys.contains(key) else {
                problems.append(
                    CheckInError(
                        field: "screening.\(Self.quoted(key))",
                        "unknown answer (known: \(keys.joined(separator: ", ")))"))
                continue
            }
            guard case .bool(let answer) = member else {
                problems.append(
                    CheckInError(field: "screening.\(key)", "must be true or false, not \(member.typeDescription)"))
                continue
            }
            answers[key] = answer
        }
        func required(_ key: String) -> Bool? {
            if let answer = answers[key] { return answer }
            // An answer given but not a boolean is reported above.
            if !members.contains(where: { $0.key == key }) {
                problems.append(
                    CheckInError(field: "screening.\(key)", "required (always asked in the C-SSRS screener)"))
            }
            return nil
        }
        let wishDead = required("wish_dead")
        let suicidalThoughts = required("suicidal_thoughts")
        let behavior = required("behavior_past_3_months")
        if vocabulary != nil, suicidalThoughts == false {
            for key in ["method", "intent", "plan"] where answers[key] == true {
                problems.append(
                    CheckInError(
                        field: "screening.\(key)",
                        "answered yes, but suicidal_thoughts is no: the C-SSRS screener asks questions 3–5 "
                            + "(method, intent, plan) only after a yes to question 2"))
            }
        }
        guard let wishDead, let suicidalThoughts, let behavior else { return nil }
        return CheckIn.Screening(
            wishDead: wishDead, suicidalThoughts: suicidalThoughts, method: answers["method"],
            intent: answers["intent"], plan: answers["plan"], behaviorPast3Months: behavior)
    }

    static func contact(_ value: JSONValue) throws(CheckInError) -> CheckIn.Contact {
        guard case .object(let members) = value else {
            throw CheckInError(field: "contact", "must be an object, not \(value.typeDescription)")
        }
        var outcome: CheckIn.Contact.Outcome?
        var task: String?
        var by: String?
        for (key, member) in members {
            switch key {
            case "outcome": outcome = try enumeration(member, field: "contact.outcome") as CheckIn.Contact.Outcome
            case "task": task = try taskID(member, field: "contact.task")
            case "by": by = try actor(member, field: "contact.by")
            default:
                throw CheckInError(field: "contact.\(quoted(key))", "unknown field (known: outcome, task, by)")
            }
        }
        guard let outcome else {
            let outcomes = CheckIn.Contact.Outcome.allCases.map(\.rawValue).joined(separator: ", ")
            throw CheckInError(field: "contact.outcome", "required (one of \(outcomes))")
        }
        return CheckIn.Contact(outcome: outcome, task: task, by: by)
    }

    static func action(_ value: JSONValue) throws(CheckInError) -> CheckIn.Action {
        guard case .object(let members) = value else {
            throw CheckInError(field: "action", "must be an object, not \(value.typeDescription)")
        }
        var task: String?
        var by: String?
        for (key, member) in members {
            switch key {
            case "task": task = try taskID(member, field: "action.task")
            case "by": by = try actor(member, field: "action.by")
            default: throw CheckInError(field: "action.\(quoted(key))", "unknown field (known: task, by)")
            }
        }
        guard let task else { throw CheckInError(field: "action.task", "required (the task id)") }
        guard let by else { throw CheckInError(field: "action.by", "required (who acted)") }
        return CheckIn.Action(task: task, by: by)
    }

    static func taskID(_ value: JSONValue, field: String) throws(CheckInError) -> String {
        guard case .string(let id) = value, (1...128).contains(id.utf8.count),
            id.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else {
            throw CheckInError(field: field, "must be a task id: 1–128 printable ASCII characters")
        }
        return id
    }

    /// Who acted: an identity, never a person's name in free text.
    static func actor(_ value: JSONValue, field: String) throws(CheckInError) -> String {
        guard case .string(let name) = value, isActor(name) else {
            throw CheckInError(field: field, "must be an identity: 1–64 of A-Z a-z 0-9 . _ : @ -")
        }
        return name
    }

    /// 1–64 characters of `A-Z a-z 0-9 . _ : @ -`: an API token's name, `link:TASK`, a login.
    public static func isActor(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0)
                    || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "-")]
                        .contains($0)
            }
    }

    /// Private free text (`note`, a plan's `coping` and `crisis_steps`): a string of at most
    /// `maxNoteBytes`. Errors name the field, never quote the text.
    static func privateText(_ value: JSONValue, field: String) throws(CheckInError) -> String {
        guard case .string(let text) = value else {
            throw CheckInError(field: field, "must be a string, not \(value.typeDescription)")
        }
        guard text.utf8.count <= maxNoteBytes else {
            throw CheckInError(field: field, "longer than \(maxNoteBytes) bytes (\(text.utf8.count))")
        }
        return text
    }

    // MARK: - Helpers

    /// `[a-z][a-z0-9_]{0,63}`.
    public static func isSnakeCase(_ text: String) -> Bool {
        guard let first = text.utf8.first, (0x61...0x7A).contains(first), text.utf8.count <= 64 else { return false }
        return text.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_")
        }
    }

    /// A key safe to echo in an error (see `StrictJSONParser.printable`).
    static func quoted(_ key: String) -> String { StrictJSONParser.printable(key) }

    static func format(_ number: Double) -> String {
        number == number.rounded() ? String(Int(number)) : String(number)
    }
}

/// Hex SHA-256 of arbitrary bytes (the default event id and content fingerprint).
public func sha256Hex(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    let digest = SHA256.hash(data: bytes)
    let digits: StaticString = "0123456789abcdef"
    return String(unsafeUninitializedCapacity: SHA256.byteCount * 2) { out in
        var index = 0
        for byte in digest {
            out[index] = digits.utf8Start[Int(byte >> 4)]
            out[index + 1] = digits.utf8Start[Int(byte & 15)]
            index += 2
        }
        return index
    }
}

/// Hex SHA-256 of a byte array.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    bytes.withUnsafeBufferPointer { sha256Hex($0) }
}
