import Crypto

/// A check-in that passed validation, with the SHA-256 of the bytes it came from.
public struct DecodedCheckIn: Sendable {
    public let checkIn: CheckIn
    /// Hex SHA-256 of the input bytes; the event id when the input has none, and the content
    /// fingerprint that tells a harmless replay from a different check-in reusing an id.
    public let digest: String
}

/// Turns the bytes of one check-in into a validated `CheckIn`, or a `CheckInError` naming the field.
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
        "contact", "note",
    ]

    /// The codes accepted; nil only for `stored`, which re-reads events accepted earlier.
    public let vocabulary: Vocabulary?

    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    private init() { vocabulary = nil }

    /// Re-reads check-ins that were validated when they were stored: their codes are not checked
    /// against today's vocabulary (it may have changed since), nor their time against today's clock.
    public static let stored = CheckInDecoder()

    /// A stored check-in's body decoded again (by `stored`); nil if it no longer decodes.
    public func decodeStored(_ body: String) -> CheckIn? {
        try? decode(Array(body.utf8), now: Timestamp(microseconds: .max / 2)).checkIn
    }

    public func decode(_ bytes: [UInt8], now: Timestamp) throws(CheckInError) -> DecodedCheckIn {
        try bytes.withUnsafeBufferPointer { buffer throws(CheckInError) in try decode(buffer, now: now) }
    }

    public func decode(_ bytes: UnsafeBufferPointer<UInt8>, now: Timestamp) throws(CheckInError) -> DecodedCheckIn {
        guard bytes.count <= Self.maxEventBytes else {
            throw CheckInError(field: nil, "larger than \(Self.maxEventBytes) bytes (\(bytes.count))")
        }
        // ASCII (the common case) is valid UTF-8; only other input needs the full check.
        guard bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil else {
            throw CheckInError(field: nil, "not valid UTF-8")
        }
        let value: JSONValue
        do {
            value = try StrictJSONParser.parse(bytes)
        } catch {
            throw CheckInError(field: nil, "not valid JSON: \(error)")
        }
        let digest = sha256Hex(bytes)
        let checkIn = try decode(value, defaultID: digest, now: now)
        return DecodedCheckIn(checkIn: checkIn, digest: digest)
    }

    /// Validates a parsed value; `defaultID` is used when the input has no `id`.
    public func decode(_ value: JSONValue, defaultID: String, now: Timestamp) throws(CheckInError) -> CheckIn {
        guard case .object(let members) = value else {
            throw CheckInError(field: nil, "must be a JSON object, not \(value.typeDescription)")
        }
        var fields = Fields()
        for member in members {
            guard fields.set(member.key, member.value) else {
                throw CheckInError(
                    field: Self.quoted(member.key),
                    "unknown field (schema v1 has: \(Self.fields.sorted().joined(separator: ", ")))")
            }
        }

        let id = try fields.id.map { value throws(CheckInError) in try Self.eventID(value) } ?? defaultID
        let client = try Self.clientID(fields.client)
        let at = try Self.time(fields.at, now: now)
        let kind: CheckIn.Kind = try Self.enumeration(fields.kind, field: "kind")
        let source: CheckIn.Source = try Self.enumeration(fields.source, field: "source")
        let measures = try Self.measures(fields.measures)
        let signs = try codes(fields.signs, list: .signs)
        let stressors = try codes(fields.stressors, list: .stressors)
        let protective = try codes(fields.protective, list: .protective)
        let screening = try fields.screening.map { value throws(CheckInError) in try Self.screening(value) }
        if kind == .screening, screening == nil {
            throw CheckInError(field: "screening", "required when kind is screening")
        }
        let contact = try fields.contact.map { value throws(CheckInError) in try Self.contact(value) }
        if kind == .contact, contact == nil { throw CheckInError(field: "contact", "required when kind is contact") }
        if kind != .contact, contact != nil {
            throw CheckInError(field: "contact", "only allowed when kind is contact (kind is \(kind.rawValue))")
        }
        let note = try fields.note.map { value throws(CheckInError) in try Self.note(value) }
        return CheckIn(
            id: id, client: client, at: at, kind: kind, source: source, measures: measures, signs: signs,
            stressors: stressors, protective: protective, screening: screening, contact: contact, note: note)
    }

    // MARK: - Fields

    /// The top-level members by name, without hashing (a check-in has at most a dozen).
    struct Fields {
        var id, client, at, kind, source, measures, signs, stressors, protective, screening, contact, note: JSONValue?

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

    static func measures(_ value: JSONValue?) throws(CheckInError) -> [(name: String, value: Double)] {
        guard let value else { return [] }
        guard case .object(let members) = value else {
            throw CheckInError(field: "measures", "must be an object of numbers, not \(value.typeDescription)")
        }
        var result: [(name: String, value: Double)] = []
        result.reserveCapacity(members.count)
        for (name, member) in members {
            // The field's name is only built for an error (this runs for every measure of every check-in).
            var field: String { "measures.\(quoted(name))" }
            guard isSnakeCase(name) else { throw CheckInError(field: field, "measure names are snake_case") }
            guard case .number(let number) = member else {
                throw CheckInError(field: field, "must be a number, not \(member.typeDescription)")
            }
            if let range = Measure.knownRanges[name], !range.contains(number) {
                throw CheckInError(
                    field: field, "\(number) is out of range \(format(range.lowerBound))–\(format(range.upperBound))")
            }
            result.append((name, number))
        }
        return result
    }

    func codes(_ value: JSONValue?, list: Vocabulary.List) throws(CheckInError) -> [String] {
        guard let value else { return [] }
        guard case .array(let elements) = value else {
            throw CheckInError(field: list.rawValue, "must be an array of codes, not \(value.typeDescription)")
        }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            // The field's name is only built for an error (this runs for every code of every check-in).
            var field: String { "\(list.rawValue)[\(index)]" }
            guard case .string(let code) = element else {
                throw CheckInError(field: field, "must be a string code, not \(element.typeDescription)")
            }
            guard Self.isSnakeCase(code) else { throw CheckInError(field: field, "not a snake_case code") }
            if let vocabulary, !vocabulary.contains(code, in: list) {
                let hint = vocabulary.suggestion(for: code, in: list).map { "; did you mean \($0)?" } ?? ""
                throw CheckInError(field: field, "unknown code \(code)\(hint)")
            }
            guard !result.contains(code) else { throw CheckInError(field: field, "code \(code) is listed twice") }
            result.append(code)
        }
        return result
    }

    static func screening(_ value: JSONValue) throws(CheckInError) -> CheckIn.Screening {
        let answers = try booleanObject(
            value, field: "screening",
            keys: ["wish_dead", "suicidal_thoughts", "method", "intent", "plan", "behavior_past_3_months"])
        func required(_ key: String) throws(CheckInError) -> Bool {
            guard let answer = answers[key] else {
                throw CheckInError(field: "screening.\(key)", "required (always asked in the C-SSRS screener)")
            }
            return answer
        }
        return CheckIn.Screening(
            wishDead: try required("wish_dead"), suicidalThoughts: try required("suicidal_thoughts"),
            method: answers["method"], intent: answers["intent"], plan: answers["plan"],
            behaviorPast3Months: try required("behavior_past_3_months"))
    }

    static func booleanObject(_ value: JSONValue, field: String, keys: [String]) throws(CheckInError) -> [String: Bool]
    {
        guard case .object(let members) = value else {
            throw CheckInError(field: field, "must be an object, not \(value.typeDescription)")
        }
        var answers: [String: Bool] = [:]
        for (key, member) in members {
            guard keys.contains(key) else {
                throw CheckInError(
                    field: "\(field).\(quoted(key))", "unknown answer (known: \(keys.joined(separator: ", ")))")
            }
            guard case .bool(let answer) = member else {
                throw CheckInError(field: "\(field).\(key)", "must be true or false, not \(member.typeDescription)")
            }
            answers[key] = answer
        }
        return answers
    }

    static func contact(_ value: JSONValue) throws(CheckInError) -> CheckIn.Contact {
        guard case .object(let members) = value else {
            throw CheckInError(field: "contact", "must be an object, not \(value.typeDescription)")
        }
        var outcome: CheckIn.Contact.Outcome?
        var task: String?
        for (key, member) in members {
            switch key {
            case "outcome": outcome = try enumeration(member, field: "contact.outcome") as CheckIn.Contact.Outcome
            case "task":
                guard case .string(let id) = member, (1...128).contains(id.utf8.count),
                    id.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
                else {
                    throw CheckInError(field: "contact.task", "must be a task id: 1–128 printable ASCII characters")
                }
                task = id
            default:
                throw CheckInError(field: "contact.\(quoted(key))", "unknown field (known: outcome, task)")
            }
        }
        guard let outcome else {
            throw CheckInError(field: "contact.outcome", "required (one of reached, no_answer, declined, left_message)")
        }
        return CheckIn.Contact(outcome: outcome, task: task)
    }

    static func note(_ value: JSONValue) throws(CheckInError) -> String {
        guard case .string(let note) = value else {
            throw CheckInError(field: "note", "must be a string, not \(value.typeDescription)")
        }
        guard note.utf8.count <= maxNoteBytes else {
            throw CheckInError(field: "note", "longer than \(maxNoteBytes) bytes (\(note.utf8.count))")
        }
        return note
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
