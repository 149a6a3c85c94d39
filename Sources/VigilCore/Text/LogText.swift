/// Text from outside (a command's stderr, a file name, a rule's text) made safe to put in one log
/// line or error message: nothing in it can end the line, forge another, move the cursor, colour a
/// terminal or reorder what a reader sees.
public enum LogText {
    /// `text` with `\n`, `\r`, `\t` and `\` escaped as in Swift, and every other control character
    /// (C0, DEL, C1), line or paragraph separator and bidirectional control as `\u{1b}`; the rest is
    /// kept as it is.
    public static func escaped(_ text: String, limit: Int = .max) -> String {
        // Most text (every log line on stderr passes here) has nothing to escape.
        if text.utf8.count <= limit, !text.unicodeScalars.contains(where: needsEscape) {
            return text
        }
        return escaped(utf8: Array(text.utf8), limit: limit)
    }

    /// Whether `text` holds a character `escaped` would rewrite, other than a backslash: a control
    /// character, a line or paragraph separator or a bidirectional control.
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0 != "\\" && needsEscape($0) }
    }

    /// Whether `escape` rewrites `scalar` (printable ASCII, the common case, is decided at once).
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        if (0x20..<0x7F).contains(scalar.value) { return scalar == "\\" }
        return escape(scalar) != String(scalar)
    }

    /// Bytes as text, escaped as above; a byte that is not part of valid UTF-8 becomes `\xNN`. With
    /// `limit`, the text stops before the escape or character that would take it past `limit`
    /// UTF-8 bytes and ends with `…` instead.
    public static func escaped(utf8 bytes: [UInt8], limit: Int = .max) -> String {
        var result = ""
        var length = 0
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        var position = 0
        while true {
            let piece: String
            switch parser.parseScalar(from: &input) {
            case .valid(let encoded):
                piece = escape(Unicode.UTF8.decode(encoded))
                position += encoded.count
            case .error(let count):
                piece = bytes[position..<position + count].map { "\\x" + hex($0, digits: 2) }.joined()
                position += count
            case .emptyInput:
                return result
            }
            guard length + piece.utf8.count <= limit else { return result + "…" }
            result += piece
            length += piece.utf8.count
        }
    }

    static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\\": return "\\\\"
        default:
            let properties = scalar.properties
            switch properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator:
                return "\\u{" + hex(scalar.value, digits: 1) + "}"
            default:
                return properties.isBidiControl ? "\\u{" + hex(scalar.value, digits: 1) + "}" : String(scalar)
            }
        }
    }

    static func hex(_ value: some BinaryInteger, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
