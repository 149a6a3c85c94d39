/// Strict RFC 3339 date-time parsing and formatting, without Foundation's formatters.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and `Z` in either case.
/// Fractions beyond microseconds are truncated; a leap second (`:60`) counts as the next second.
public enum RFC3339 {
    /// Why a string is not an RFC 3339 date-time.
    public struct ParseError: Error, Equatable, Sendable {
        public let problem: String
    }

    public static func parse(_ text: String) throws(ParseError) -> Timestamp {
        var utf8 = Array(text.utf8)
        return try utf8.withUnsafeMutableBufferPointer { buffer throws(ParseError) in
            try parse(UnsafeBufferPointer(buffer))
        }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) throws(ParseError) -> Timestamp {
        let expected = "expected YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"
        guard b.count >= 20 else { throw ParseError(problem: "too short for RFC 3339: " + expected) }
        func digits(_ start: Int, _ count: Int) throws(ParseError) -> Int {
            var value = 0
            for i in start..<(start + count) {
                let c = b[i]
                guard c >= 0x30, c <= 0x39 else { throw ParseError(problem: expected) }
                value = value * 10 + Int(c - 0x30)
            }
            return value
        }
        func expect(_ index: Int, _ chars: UInt8...) throws(ParseError) {
            guard chars.contains(b[index]) else { throw ParseError(problem: expected) }
        }
        let year = try digits(0, 4)
        try expect(4, UInt8(ascii: "-"))
        let month = try digits(5, 2)
        try expect(7, UInt8(ascii: "-"))
        let day = try digits(8, 2)
        try expect(10, UInt8(ascii: "T"), UInt8(ascii: "t"))
        let hour = try digits(11, 2)
        try expect(13, UInt8(ascii: ":"))
        let minute = try digits(14, 2)
        try expect(16, UInt8(ascii: ":"))
        let second = try digits(17, 2)
        var index = 19
        var micros = 0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 100_000
            let start = index
            while index < b.count, b[index] >= 0x30, b[index] <= 0x39 {
                micros += Int(b[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { throw ParseError(problem: "empty fraction of a second") }
        }
        guard index < b.count else { throw ParseError(problem: "missing time zone offset (Z or ±HH:MM)") }
        var offsetSeconds = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard b.count - index == 6 else { throw ParseError(problem: "offset must be ±HH:MM") }
            let sign = b[index] == UInt8(ascii: "-") ? -1 : 1
            let offsetHours = try digits(index + 1, 2)
            try expect(index + 3, UInt8(ascii: ":"))
            let offsetMinutes = try digits(index + 4, 2)
            guard offsetHours <= 23, offsetMinutes <= 59 else { throw ParseError(problem: "offset out of range") }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
            index += 6
        default:
            throw ParseError(problem: "missing time zone offset (Z or ±HH:MM)")
        }
        guard index == b.count else { throw ParseError(problem: "trailing characters after the time zone") }
        guard (1...12).contains(month) else { throw ParseError(problem: "month \(month) out of range 01–12") }
        guard day >= 1, day <= daysInMonth(year: year, month: month) else {
            throw ParseError(problem: "day \(day) does not exist in \(year)-\(month < 10 ? "0" : "")\(month)")
        }
        guard hour <= 23, minute <= 59, second <= 60 else { throw ParseError(problem: "time of day out of range") }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return Timestamp(microseconds: seconds * 1_000_000 + Int64(micros))
    }

    /// Formats in UTC with six fractional digits.
    public static func format(_ timestamp: Timestamp) -> String {
        let micros = timestamp.microseconds
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 {
            fraction += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civilFromDays(Int(days))
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let hms = Int(secondOfDay)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hms / 3600, 2)):\(pad(hms / 60 % 60, 2)):"
            + "\(pad(hms % 60, 2)).\(pad(Int(fraction), 6))Z"
    }

    static func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysFromCivil`.
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
