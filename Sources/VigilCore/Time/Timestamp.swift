/// An instant, in whole microseconds since the Unix epoch (UTC).
///
/// The core never reads a clock: every function that depends on "now" takes a `Timestamp`.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public init(seconds: Int64) { self.microseconds = seconds * 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    /// Later than any real instant (and still safe to add a day to).
    public static let distantFuture = Timestamp(microseconds: Int64.max / 2)

    /// This instant moved by `span`.
    public func adding(_ span: TimeSpan) -> Timestamp {
        Timestamp(microseconds: microseconds &+ span.microseconds)
    }

    /// The RFC 3339 form in UTC with microseconds, e.g. `2026-11-23T09:30:00.000000Z`.
    public var description: String { RFC3339.format(self) }
}

/// A signed length of time in microseconds.
public struct TimeSpan: Hashable, Comparable, Sendable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public static func seconds(_ value: Int64) -> TimeSpan { TimeSpan(microseconds: value * 1_000_000) }
    public static func minutes(_ value: Int64) -> TimeSpan { .seconds(value * 60) }
    public static func hours(_ value: Int64) -> TimeSpan { .minutes(value * 60) }
    public static func days(_ value: Int64) -> TimeSpan { .hours(value * 24) }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.microseconds < rhs.microseconds }

    /// The longest span a rule may name (100 years): far beyond any clinical window, and short enough
    /// that no sum of spans and timestamps can overflow.
    public static let longest = TimeSpan.days(36_525)

    /// `seconds` as a span; nil when negative, not finite or longer than `longest`.
    public init?(checkedSeconds seconds: Double) {
        guard seconds.isFinite, seconds >= 0, seconds <= Double(Self.longest.microseconds) / 1e6 else { return nil }
        self.init(microseconds: Int64(seconds * 1e6))
    }
}

/// Where "now" comes from: the seam through which the daemon's clock is injected (the shell's
/// `SystemClock` in production). One-shot commands take `--as-of` instead.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}

/// A timestamp in JSON is its RFC 3339 text (`description`), as every output documents.
extension Timestamp: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try RFC3339.parse(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(error)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
