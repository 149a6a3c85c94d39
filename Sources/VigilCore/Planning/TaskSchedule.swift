/// When a task is due, as a response plan writes it: `now`, `within 4h`, `at 24h`, `daily for 7d`.
///
/// Offsets count from the moment Vigil detected the tier change (its clock, not the event's `at`),
/// so a late-arriving event still gets the whole window.
public enum TaskSchedule: Equatable, Sendable, CustomStringConvertible {
    /// Due and delivered at once.
    case now
    /// Delivered at once (so someone can act), due by the end of the span.
    case within(TimeSpan)
    /// Delivered and due when the span has passed.
    case at(TimeSpan)
    /// One occurrence a day, 24 h apart, the first 24 h after detection, for the given days.
    case daily(days: Int)

    /// One occurrence: when it is delivered to the team and when the action is due, as offsets.
    public struct Occurrence: Equatable, Sendable {
        public var deliver: TimeSpan
        public var due: TimeSpan

        public init(deliver: TimeSpan, due: TimeSpan) {
            self.deliver = deliver
            self.due = due
        }
    }

    public var occurrences: [Occurrence] {
        switch self {
        case .now: return [Occurrence(deliver: .seconds(0), due: .seconds(0))]
        case .within(let span): return [Occurrence(deliver: .seconds(0), due: span)]
        case .at(let span): return [Occurrence(deliver: span, due: span)]
        case .daily(let days): return (1...days).map { Occurrence(deliver: .days(Int64($0)), due: .days(Int64($0))) }
        }
    }

    /// The longest daily series a plan may ask for.
    public static let longestDaily = 90

    /// Parses the plan's text (spans such as `4h` or `7d`, see `TimeSpan(text:)`). Nil when malformed.
    public static func parse(_ text: String) -> TaskSchedule? {
        let duration = TimeSpan.init(text:)
        let words = text.split(separator: " ").map(String.init)
        switch words.count {
        case 1 where words[0] == "now": return .now
        case 2 where words[0] == "within": return duration(words[1]).map { .within($0) }
        case 2 where words[0] == "at": return duration(words[1]).map { .at($0) }
        case 3 where words[0] == "daily" && words[1] == "for":
            guard let span = duration(words[2]), span.microseconds % TimeSpan.days(1).microseconds == 0 else {
                return nil
            }
            let days = Int(span.microseconds / TimeSpan.days(1).microseconds)
            return (1...longestDaily).contains(days) ? .daily(days: days) : nil
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .now: return "now"
        case .within(let span): return "within \(span.compact)"
        case .at(let span): return "at \(span.compact)"
        case .daily(let days): return "daily for \(days)d"
        }
    }
}

extension TimeSpan {
    /// The span in its largest whole unit: `4h`, `3d`, `90s`.
    public var compact: String {
        let seconds = microseconds / 1_000_000
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where seconds % size == 0 && seconds > 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}

extension TimeSpan {
    /// A span as rules, plans and configuration write it: a number and a unit, `s`, `m`, `h` or `d`
    /// (`90s`, `1.5h`, `7d`; `compact`'s form reads back). Nil for anything else, or beyond `longest`.
    public init?(text: String) {
        guard let unit = text.last, let value = Double(text.dropLast()) else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        default: return nil
        }
        self.init(checkedSeconds: value * seconds)
    }
}
