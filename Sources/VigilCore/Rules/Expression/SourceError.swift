/// A mistake at a place in a source file (a rule expression, a YAML key of a configuration, rules
/// or test file), shown as `FILE:LINE:COL: key 'KEY': message` with the offending line and a caret.
public struct SourceError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// The line and column, when known (1-based).
    public var line: Int?
    public var column: Int?
    /// The YAML key path it is about (`notifier.channels.team.url`, `rules[2].weight`), if any.
    public var key: String?
    public var message: String
    /// The text of the offending line, when known.
    public var sourceLine: String?

    public init(
        file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, _ message: String,
        sourceLine: String? = nil
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
        self.sourceLine = sourceLine
    }

    /// `FILE:LINE:COL: key 'KEY': message`, then the line with a caret under the column.
    public var description: String {
        var text = file
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        text += ": "
        if let key { text += "key '\(key)': " }
        text += message
        if let sourceLine, let column {
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

/// Every mistake found in a file or a rule set, in file order.
public struct SourceErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [SourceError]

    public init(errors: [SourceError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
