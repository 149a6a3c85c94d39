/// A mistake in a rules file, located as `FILE:LINE:COL: message`, with the offending line and a caret.
public struct SourceError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String
    /// The text of the offending line, when known.
    public var sourceLine: String?

    public init(file: String, line: Int, column: Int, _ message: String, sourceLine: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.sourceLine = sourceLine
    }

    public var description: String {
        var text = "\(file):\(line):\(column): \(message)"
        if let sourceLine {
            text += "\n  \(sourceLine)\n  " + String(repeating: " ", count: max(0, column - 1)) + "^"
        }
        return text
    }
}

/// Where an expression's text sits in its file, to turn offsets inside it into `LINE:COL`.
public struct ExpressionOrigin: Sendable {
    public var file: String
    public var line: Int
    /// The column of the expression's first character.
    public var column: Int
    /// The whole line of the file, for the caret display.
    public var sourceLine: String?

    public init(file: String, line: Int, column: Int, sourceLine: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.sourceLine = sourceLine
    }

    /// An error at `offset` characters into the expression (single-line expressions; for multi-line
    /// ones the line advances with each newline before the offset).
    func error(at offset: Int, in text: String, _ message: String) -> SourceError {
        let prefix = text.prefix(offset)
        let newlines = prefix.filter { $0 == "\n" }.count
        if newlines == 0 {
            return SourceError(file: file, line: line, column: column + offset, message, sourceLine: sourceLine)
        }
        // Later lines of a block scalar: its text lost the block's indentation, which is `column - 1`.
        let indent = String(repeating: " ", count: column - 1)
        let lastLine = prefix.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        let fullLine = text.split(separator: "\n", omittingEmptySubsequences: false)[newlines]
        return SourceError(
            file: file, line: line + newlines, column: column + lastLine.count, message,
            sourceLine: indent + fullLine)
    }
}

/// Every mistake found in a rule set, in file order.
public struct SourceErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [SourceError]

    public init(errors: [SourceError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
