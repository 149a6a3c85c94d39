/// Text from outside (file names, codes, a command's stderr) made safe for a log line or a terminal.
public enum LogText {
    /// `text` with every control character (C0, DEL, C1) and the Unicode line and paragraph
    /// separators written as an escape (`\n`, `\t`, `\r`, `\u{1B}`…) and backslashes doubled, so it
    /// can neither start a forged line nor drive a terminal. Other characters are kept as they are.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where needsEscape(scalar): result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether `text` holds a character `escaped` would rewrite (a backslash aside).
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0 != "\\" && needsEscape($0) }
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
            || scalar == "\\"
    }
}
