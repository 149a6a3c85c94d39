/// A token of the rule expression language, with its character offset in the expression.
struct Token: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case number(Double)
        case duration(TimeSpan)
        case string(String)
        case identifier(String)
        case symbol(String)
        case end
    }
    let kind: Kind
    let offset: Int
}

/// Splits an expression into tokens: numbers, durations (`30m 24h 7d`), strings, identifiers,
/// operators and punctuation.
enum Lexer {
    static let symbols = ["==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-", "*", "/"]

    static func tokens(_ text: String, origin: ExpressionOrigin) throws(SourceError) -> [Token] {
        let chars = Array(text)
        var tokens: [Token] = []
        var index = 0
        while index < chars.count {
            let c = chars[index]
            if c.isWhitespace {
                index += 1
                continue
            }
            let start = index
            if c.isNumber {
                while index < chars.count, chars[index].isNumber || chars[index] == "." { index += 1 }
                let literal = String(chars[start..<index])
                guard let value = Double(literal) else {
                    throw origin.error(at: start, in: text, "malformed number '\(literal)'")
                }
                if index < chars.count, let unit = chars[index].asciiValue,
                    [UInt8(ascii: "s"), UInt8(ascii: "m"), UInt8(ascii: "h"), UInt8(ascii: "d")].contains(unit),
                    !(index + 1 < chars.count && (chars[index + 1].isLetter || chars[index + 1].isNumber))
                {
                    let seconds: Double =
                        [
                            UInt8(ascii: "s"): 1, UInt8(ascii: "m"): 60, UInt8(ascii: "h"): 3600,
                            UInt8(ascii: "d"): 86_400,
                        ][unit] ?? 1
                    index += 1
                    guard let span = TimeSpan(checkedSeconds: value * seconds) else {
                        throw origin.error(at: start, in: text, "duration '\(literal)' is longer than 100 years")
                    }
                    tokens.append(Token(kind: .duration(span), offset: start))
                } else {
                    tokens.append(Token(kind: .number(value), offset: start))
                }
                continue
            }
            if c.isLetter || c == "_" {
                while index < chars.count, chars[index].isLetter || chars[index].isNumber || chars[index] == "_" {
                    index += 1
                }
                tokens.append(Token(kind: .identifier(String(chars[start..<index])), offset: start))
                continue
            }
            if c == "\"" || c == "'" {
                index += 1
                var value = ""
                while index < chars.count, chars[index] != c {
                    value.append(chars[index])
                    index += 1
                }
                guard index < chars.count else { throw origin.error(at: start, in: text, "unterminated string") }
                index += 1
                tokens.append(Token(kind: .string(value), offset: start))
                continue
            }
            let two = index + 1 < chars.count ? String(chars[index...index + 1]) : ""
            if symbols.contains(two) {
                tokens.append(Token(kind: .symbol(two), offset: start))
                index += 2
            } else if symbols.contains(String(c)) {
                tokens.append(Token(kind: .symbol(String(c)), offset: start))
                index += 1
            } else {
                throw origin.error(at: start, in: text, "unexpected character '\(c)'")
            }
        }
        tokens.append(Token(kind: .end, offset: chars.count))
        return tokens
    }
}
