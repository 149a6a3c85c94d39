/// The parsed form of a rule expression; `offset` locates each node in the expression's text.
indirect enum Syntax: Sendable {
    case number(Double, offset: Int)
    case duration(TimeSpan, offset: Int)
    case string(String, offset: Int)
    case bool(Bool, offset: Int)
    case list([Syntax], offset: Int)
    /// A dotted name: a field (`measure.mood`), a shared condition or a shared list.
    case path([String], offset: Int)
    case call(String, [Syntax], offset: Int)
    case unary(String, Syntax, offset: Int)
    case binary(String, Syntax, Syntax, offset: Int)

    var offset: Int {
        switch self {
        case .number(_, let offset), .duration(_, let offset), .string(_, let offset), .bool(_, let offset),
            .list(_, let offset), .path(_, let offset), .call(_, _, let offset), .unary(_, _, let offset),
            .binary(_, _, _, let offset):
            return offset
        }
    }
}

/// A recursive-descent parser. Precedence, lowest first: `or`, `and`, `not`, comparisons and `in`,
/// `+ -`, `* /`, unary `-`.
struct Parser {
    let text: String
    let origin: ExpressionOrigin
    var tokens: [Token]
    var position = 0
    /// How deep the syntax tree being built is at this point: brackets, calls, `not`, unary minus
    /// and each operator of a chain add a level. Bounded, so that neither this parser nor what walks
    /// the tree (the compiler, the prefilter) can run out of stack on a hostile rule file.
    var level = 0
    static let deepest = 100

    static func parse(_ text: String, origin: ExpressionOrigin) throws(SourceError) -> Syntax {
        var parser = Parser(text: text, origin: origin, tokens: try Lexer.tokens(text, origin: origin))
        let syntax = try parser.orExpression()
        guard case .end = parser.current.kind else {
            throw parser.error("unexpected \(parser.describe(parser.current))")
        }
        return syntax
    }

    var current: Token { tokens[position] }

    func error(_ message: String, at offset: Int? = nil) -> SourceError {
        origin.error(at: offset ?? current.offset, in: text, message)
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .number(let value): return "number \(value)"
        case .duration: return "a duration"
        case .string(let value): return "string \"\(value)\""
        case .identifier(let name): return "'\(name)'"
        case .symbol(let symbol): return "'\(symbol)'"
        case .end: return "end of expression"
        }
    }

    func isKeyword(_ word: String) -> Bool {
        if case .identifier(let name) = current.kind { return name == word }
        return false
    }

    func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(let found) = current.kind { return found == symbol }
        return false
    }

    mutating func expect(_ symbol: String) throws(SourceError) {
        guard isSymbol(symbol) else { throw error("expected '\(symbol)', found \(describe(current))") }
        position += 1
    }

    /// The operator (keyword or symbol) at the current token, if it is one of `operators`.
    func current(in operators: [String]) -> String? {
        switch current.kind {
        case .identifier(let word), .symbol(let word): return operators.contains(word) ? word : nil
        default: return nil
        }
    }

    /// One level deeper (see `level`); refused past `deepest`.
    mutating func descend() throws(SourceError) {
        level += 1
        guard level <= Self.deepest else {
            throw error(
                "the expression nests too deeply (more than \(Self.deepest) levels of operators, brackets and calls)")
        }
    }

    /// `operand (op operand)*`, left-associative, for any of `operators`.
    mutating func leftAssociative(
        _ operators: [String], _ operand: (inout Parser) throws(SourceError) -> Syntax
    ) throws(SourceError) -> Syntax {
        let entry = level
        defer { level = entry }
        var left = try operand(&self)
        while let op = current(in: operators) {
            let offset = current.offset
            position += 1
            try descend()
            left = .binary(op, left, try operand(&self), offset: offset)
        }
        return left
    }

    mutating func orExpression() throws(SourceError) -> Syntax {
        let entry = level
        defer { level = entry }
        try descend()
        return try leftAssociative(["or"]) { parser throws(SourceError) in try parser.andExpression() }
    }

    mutating func andExpression() throws(SourceError) -> Syntax {
        try leftAssociative(["and"]) { parser throws(SourceError) in try parser.notExpression() }
    }

    mutating func notExpression() throws(SourceError) -> Syntax {
        if isKeyword("not") {
            let offset = current.offset
            position += 1
            let entry = level
            defer { level = entry }
            try descend()
            return .unary("not", try notExpression(), offset: offset)
        }
        return try comparison()
    }

    /// Comparisons do not chain: `a < b < c` is an error.
    mutating func comparison() throws(SourceError) -> Syntax {
        let left = try additive()
        guard let op = current(in: ["==", "!=", "<=", ">=", "<", ">", "in"]) else { return left }
        let offset = current.offset
        position += 1
        return .binary(op, left, try additive(), offset: offset)
    }

    mutating func additive() throws(SourceError) -> Syntax {
        try leftAssociative(["+", "-"]) { parser throws(SourceError) in try parser.multiplicative() }
    }

    mutating func multiplicative() throws(SourceError) -> Syntax {
        try leftAssociative(["*", "/"]) { parser throws(SourceError) in try parser.unary() }
    }

    mutating func unary() throws(SourceError) -> Syntax {
        if isSymbol("-") {
            let offset = current.offset
            position += 1
            let entry = level
            defer { level = entry }
            try descend()
            return .unary("-", try unary(), offset: offset)
        }
        return try primary()
    }

    mutating func primary() throws(SourceError) -> Syntax {
        let token = current
        switch token.kind {
        case .number(let value):
            position += 1
            return .number(value, offset: token.offset)
        case .duration(let span):
            position += 1
            return .duration(span, offset: token.offset)
        case .string(let value):
            position += 1
            return .string(value, offset: token.offset)
        case .symbol("("):
            position += 1
            let inner = try orExpression()
            try expect(")")
            return inner
        case .symbol("["):
            position += 1
            var items: [Syntax] = []
            if !isSymbol("]") {
                items.append(try orExpression())
                while isSymbol(",") {
                    position += 1
                    items.append(try orExpression())
                }
            }
            try expect("]")
            return .list(items, offset: token.offset)
        case .identifier(let name):
            position += 1
            if name == "true" || name == "false" { return .bool(name == "true", offset: token.offset) }
            if ["and", "or", "not", "in"].contains(name) { throw error("unexpected '\(name)'", at: token.offset) }
            if isSymbol("(") {
                position += 1
                var arguments: [Syntax] = []
                if !isSymbol(")") {
                    arguments.append(try orExpression())
                    while isSymbol(",") {
                        position += 1
                        arguments.append(try orExpression())
                    }
                }
                try expect(")")
                return .call(name, arguments, offset: token.offset)
            }
            var path = [name]
            while isSymbol(".") {
                position += 1
                guard case .identifier(let part) = current.kind else {
                    throw error("expected a field name after '.', found \(describe(current))")
                }
                path.append(part)
                position += 1
            }
            return .path(path, offset: token.offset)
        default:
            throw error("expected a value, found \(describe(token))")
        }
    }
}
