/// Type-checks a parsed expression and compiles it into closures, once, at load time: no names are
/// looked up and no text is parsed per event.
struct Compiler {
    let vocabulary: Vocabulary
    let text: String
    let origin: ExpressionOrigin
    /// Shared conditions (compiled, boolean) and shared lists, by name.
    let conditions: [String: Condition]
    let lists: [String: [String]]
    /// Where the rule set's aggregate inputs are collected (shared by every expression of the set).
    let inputs: AggregateInputs
    /// The longest look-back any aggregate of this expression needs.
    var lookBack = TimeSpan(microseconds: 0)
    /// Where aggregates are refused, if they are: an `absent:` rule's match reads one event alone.
    var aggregatesRefused: String?
    /// The shared conditions that use an aggregate (so cannot appear where aggregates cannot).
    let aggregateConditions: Set<String>
    /// Whether this expression uses an aggregate, directly or through a shared condition.
    var usesAggregate = false
    /// The vocabulary codes the expression reads (`vigil rules check --strict`).
    var codesRead: [Vocabulary.List: Set<String>] = [:]
    /// The mistakes found in an operand after its sibling's mistake was thrown: both are reported.
    var moreErrors: [SourceError] = []

    /// How far `last` and `since` look back: they search the same bounded history as the windows.
    static let defaultLookBack = TimeSpan.days(30)
    static let functions = ["has", "count", "avg", "min", "max", "last", "since", "any", "size"]

    init(
        vocabulary: Vocabulary, text: String, origin: ExpressionOrigin,
        conditions: [String: Condition], aggregateConditions: Set<String> = [], lists: [String: [String]],
        inputs: AggregateInputs
    ) {
        self.aggregateConditions = aggregateConditions
        self.inputs = inputs
        self.vocabulary = vocabulary
        self.text = text
        self.origin = origin
        self.conditions = conditions
        self.lists = lists
    }

    func error(_ node: Syntax, _ message: String) -> SourceError { origin.error(at: node.offset, in: text, message) }

    /// Compiles a condition: the expression must be boolean.
    mutating func condition(_ syntax: Syntax) throws(SourceError) -> @Sendable (EvaluationContext) -> Bool {
        let compiled = try compile(syntax, inAggregate: false)
        guard case .bool(let closure) = compiled else {
            throw error(syntax, "a condition must be boolean, but this is a \(compiled.typeName)")
        }
        return closure
    }

    mutating func compile(_ syntax: Syntax, inAggregate: Bool) throws(SourceError) -> Compiled {
        switch syntax {
        case .number(let value, _):
            return .number { _ in value }
        case .duration(let span, _):
            return .duration { _ in span }
        case .string(let value, _):
            return .string({ _ in value }, domain: nil, literal: value)
        case .bool(let value, _):
            return .bool { _ in value }
        case .list(let items, _):
            var strings: [String] = []
            for item in items {
                guard case .string(let value, _) = item else { throw error(item, "list literals hold strings only") }
                strings.append(value)
            }
            return .strings(strings)
        case .path(let path, _):
            return try field(path, syntax, inAggregate: inAggregate)
        case .call(let name, let arguments, _):
            return try call(name, arguments, syntax, inAggregate: inAggregate)
        case .unary(let op, let operand, _):
            let inner = try compile(operand, inAggregate: inAggregate)
            switch (op, inner) {
            case ("not", .bool(let f)): return .bool { !f($0) }
            case ("-", .number(let f)): return .number { f($0).map { -$0 } }
            default: throw error(syntax, "'\(op)' cannot apply to a \(inner.typeName)")
            }
        case .binary(let op, let lhs, let rhs, _):
            return try binary(op, lhs, rhs, syntax, inAggregate: inAggregate)
        }
    }

    // MARK: - Fields

    mutating func field(_ path: [String], _ node: Syntax, inAggregate: Bool) throws(SourceError) -> Compiled {
        let name = path.joined(separator: ".")
        switch (path.first ?? "", path.count) {
        case ("kind", 1):
            return .string({ $0.event.kind.rawValue }, domain: CheckIn.Kind.allCases.map(\.rawValue), literal: nil)
        case ("source", 1):
            return .string({ $0.event.source.rawValue }, domain: CheckIn.Source.allCases.map(\.rawValue), literal: nil)
        case ("client", 1):
            return .string({ $0.event.client }, domain: nil, literal: nil)
        case ("signs", 1): return .codes(.signs)
        case ("stressors", 1): return .codes(.stressors)
        case ("protective", 1): return .codes(.protective)
        case ("measure", 2):
            let measure = path[1]
            guard CheckInDecoder.isSnakeCase(measure) else { throw error(node, "measure names are snake_case") }
            try checkMeasure(measure, node)
            if let slot = KnownMeasures.slot(measure) { return .number { slot($0.observed.checkIn.known) } }
            return .number { $0.event.measure(measure) }
        case ("screening", 2):
            let answer = path[1]
            guard let read = Self.screeningReader(answer) else {
                throw error(
                    node,
                    "unknown screening answer '\(answer)' (known: \(CheckIn.Screening.answers.joined(separator: ", ")))"
                )
            }
            return .bool { read($0.event.screening) ?? false }
        case ("contact", 2) where path[1] == "outcome":
            return .string(
                { $0.event.contact?.outcome.rawValue }, domain: CheckIn.Contact.Outcome.allCases.map(\.rawValue),
                literal: nil)
        case ("contact", 2) where path[1] == "task":
            return .string({ $0.event.contact?.task }, domain: nil, literal: nil)
        case ("note", _):
            throw error(node, "the note is private free text and cannot be used in rules")
        case ("plan", 2):
            try checkPlanAllowed(node, inAggregate: inAggregate)
            guard let list = PlanList(rawValue: path[1]) else {
                if path[1] == "coping" || path[1] == "crisis_steps" {
                    throw error(node, "plan.\(path[1]) is private free text and cannot be used in rules")
                }
                let known = PlanList.allCases.map { "plan.\($0.rawValue)" }.joined(separator: ", ")
                throw error(node, "unknown plan field '\(path[1])' (rules read \(known), and has(plan))")
            }
            return .planList(list)
        default:
            if path.count == 1, let condition = conditions[name] {
                if aggregateConditions.contains(name) {
                    if inAggregate {
                        throw error(node, "condition '\(name)' uses an aggregate, so it cannot be used inside another")
                    }
                    if let place = aggregatesRefused {
                        throw error(node, "condition '\(name)' uses an aggregate, so it cannot be used in \(place)")
                    }
                    usesAggregate = true
                }
                return .bool(condition.test)
            }
            if path.count == 1, let list = lists[name] { return .strings(list) }
            let known =
                [
                    "kind", "source", "client", "signs", "stressors", "protective", "measure.NAME", "screening.ANSWER",
                    "contact.outcome", "contact.task", "plan.triggers", "plan.warning_signs", "plan.pathway",
                ]
                + conditions.keys.sorted() + lists.keys.sorted()
            let nearest = known.min { EditDistance.levenshtein($0, name) < EditDistance.levenshtein($1, name) }
            let hint = nearest.map { EditDistance.levenshtein($0, name) <= 3 ? "; did you mean \($0)?" : "" } ?? ""
            throw error(node, "unknown field '\(name)'\(hint)")
        }
    }

    /// The plan is the client's, read at the event's time from its history: not in an aggregate's
    /// condition or an `absent:` match, which test one event alone.
    func checkPlanAllowed(_ node: Syntax, inAggregate: Bool) throws(SourceError) {
        if inAggregate {
            throw error(
                node, "the client's plan cannot be read inside an aggregate's condition (it reads events alone)")
        }
        if let place = aggregatesRefused {
            throw error(node, "the client's plan cannot be read in \(place), which is tested on each event alone")
        }
    }

    static func screeningReader(_ answer: String) -> (@Sendable (CheckIn.Screening?) -> Bool?)? {
        switch answer {
        case "wish_dead": return { $0?.wishDead }
        case "suicidal_thoughts": return { $0?.suicidalThoughts }
        case "method": return { $0?.method }
        case "intent": return { $0?.intent }
        case "plan": return { $0?.plan }
        case "behavior_past_3_months": return { $0?.behaviorPast3Months }
        default: return nil
        }
    }

    // MARK: - Operators

    mutating func binary(_ op: String, _ lhs: Syntax, _ rhs: Syntax, _ node: Syntax, inAggregate: Bool)
        throws(SourceError) -> Compiled
    {
        let left: Compiled
        do {
            left = try compile(lhs, inAggregate: inAggregate)
        } catch {
            // The right operand may hold a mistake of its own: report it in the same run, before the
            // mistakes found after it (so in the order of the text).
            let found = moreErrors.count
            do {
                _ = try compile(rhs, inAggregate: inAggregate)
            } catch let other {
                moreErrors.insert(other, at: found)
            }
            throw error
        }
        let right = try compile(rhs, inAggregate: inAggregate)
        let mismatch = "'\(op)' cannot combine a \(left.typeName) with a \(right.typeName)"
        switch op {
        case "and", "or":
            guard case .bool(let l) = left, case .bool(let r) = right else { throw error(node, mismatch) }
            return op == "and" ? .bool { l($0) && r($0) } : .bool { l($0) || r($0) }
        case "+", "-", "*", "/":
            switch (left, right) {
            case (.number(let l), .number(let r)):
                let apply = Self.arithmetic(op)
                return .number { ctx in
                    guard let a = l(ctx), let b = r(ctx) else { return nil }
                    return apply(a, b)
                }
            case (.duration(let l), .duration(let r)) where op == "+" || op == "-":
                let sign: Int64 = op == "+" ? 1 : -1
                return .duration { ctx in
                    guard let a = l(ctx), let b = r(ctx) else { return nil }
                    return TimeSpan(microseconds: a.microseconds + sign * b.microseconds)
                }
            default: throw error(node, mismatch)
            }
        case "<", "<=", ">", ">=":
            let test = Self.ordering(op)
            switch (left, right) {
            case (.number(let l), .number(let r)):
                if case .number(let constant, _) = rhs { return .bool(Self.compare(l, op, constant)) }
                return .bool { ctx in
                    guard let a = l(ctx), let b = r(ctx) else { return false }
                    return test(a, b)
                }
            case (.duration(let l), .duration(let r)):
                return .bool { ctx in
                    guard let a = l(ctx), let b = r(ctx) else { return false }
                    return test(Double(a.microseconds), Double(b.microseconds))
                }
            default: throw error(node, mismatch)
            }
        case "==", "!=":
            let equal = try equality(left, right, lhs, rhs, node, mismatch)
            return op == "==" ? .bool(equal) : .bool { !equal($0) }
        case "in":
            return try membership(left, right, lhs, rhs, node, mismatch)
        default:
            throw error(node, "unknown operator '\(op)'")
        }
    }

    func equality(
        _ left: Compiled, _ right: Compiled, _ lhs: Syntax, _ rhs: Syntax, _ node: Syntax, _ mismatch: String
    ) throws(SourceError) -> @Sendable (EvaluationContext) -> Bool {
        switch (left, right) {
        case (.number(let l), .number(let r)):
            return { ctx in
                guard let a = l(ctx), let b = r(ctx) else { return false }
                return a == b
            }
        case (.bool(let l), .bool(let r)):
            return { l($0) == r($0) }
        case (.duration(let l), .duration(let r)):
            return { ctx in
                guard let a = l(ctx), let b = r(ctx) else { return false }
                return a == b
            }
        case (.string(let l, let leftDomain, let leftLiteral), .string(let r, let rightDomain, let rightLiteral)):
            try checkDomain(leftDomain, rightLiteral, rhs)
            try checkDomain(rightDomain, leftLiteral, lhs)
            if let fused = Self.enumEquality(lhs, rhs) ?? Self.enumEquality(rhs, lhs) { return fused }
            return { ctx in
                guard let a = l(ctx), let b = r(ctx) else { return false }
                return a == b
            }
        default:
            throw error(node, mismatch)
        }
    }

    mutating func membership(
        _ left: Compiled, _ right: Compiled, _ lhs: Syntax, _ rhs: Syntax, _ node: Syntax, _ mismatch: String
    ) throws(SourceError) -> Compiled {
        switch (left, right) {
        case (.string(_, _, let literal?), .codes(let list)):
            try checkCode(literal, list, lhs)
            // One closure per list, testing in place: the commonest rule shape, kept to one call.
            switch list {
            case .signs: return .bool { $0.event.signs.contains(literal) }
            case .stressors: return .bool { $0.event.stressors.contains(literal) }
            case .protective: return .bool { $0.event.protective.contains(literal) }
            }
        case (.string(let value, let domain, _), .strings(let options)):
            for option in options { try checkDomain(domain, option, rhs) }
            return .bool { ctx in value(ctx).map(options.contains) ?? false }
        case (.string(_, _, let literal?), .planList(let list)):
            if let codes = list.codes {
                try checkCode(literal, codes, lhs)
            } else {
                try checkDomain(list.domain, literal, lhs)
            }
            let read = list.reader
            return .bool { read($0).contains(literal) }
        case (.string, .planList):
            throw error(lhs, "the left side of 'in' a plan list must be a literal")
        case (.string, .codes):
            throw error(lhs, "the left side of 'in' a code list must be a code literal")
        default:
            throw error(node, mismatch)
        }
    }

    func checkDomain(_ domain: [String]?, _ literal: String?, _ node: Syntax) throws(SourceError) {
        guard let domain, let literal, !domain.contains(literal) else { return }
        let nearest = domain.min { EditDistance.levenshtein($0, literal) < EditDistance.levenshtein($1, literal) }
        throw error(
            node,
            "'\(literal)' is not a possible value (one of \(domain.joined(separator: ", ")))\(nearest.map { "; did you mean \($0)?" } ?? "")"
        )
    }

    /// Checks that `code` is in the vocabulary's `list`, and records that this expression reads it.
    mutating func checkCode(_ code: String, _ list: Vocabulary.List, _ node: Syntax) throws(SourceError) {
        codesRead[list, default: []].insert(code)
        guard !vocabulary.contains(code, in: list) else { return }
        let hint = vocabulary.suggestion(for: code, in: list).map { "; did you mean \($0)?" } ?? ""
        throw error(node, "unknown code '\(code)' in \(list.rawValue) (vocabulary.yaml)\(hint)")
    }

    func checkMeasure(_ name: String, _ node: Syntax) throws(SourceError) {
        guard vocabulary.measures[name] == nil else { return }
        let hint = vocabulary.measureSuggestion(for: name).map { "; did you mean \($0)?" } ?? ""
        throw error(node, "unknown measure '\(name)' (vocabulary.yaml: measures)\(hint)")
    }

    /// A closure applying `body` to one code list of the event, read in place (no copy of the array).
    static func reading<T>(
        _ list: Vocabulary.List, _ body: @escaping @Sendable ([String]) -> T
    ) -> @Sendable (EvaluationContext) -> T {
        switch list {
        case .signs: return { body($0.event.signs) }
        case .stressors: return { body($0.event.stressors) }
        case .protective: return { body($0.event.protective) }
        }
    }

    /// `kind == "overdose"` (or `source == …`) as one comparison of enum values, with no strings.
    static func enumEquality(_ field: Syntax, _ literal: Syntax) -> (@Sendable (EvaluationContext) -> Bool)? {
        guard case .path(let path, _) = field, path.count == 1, case .string(let value, _) = literal else { return nil }
        switch path[0] {
        case "kind":
            guard let kind = CheckIn.Kind(rawValue: value) else { return nil }
            return { $0.event.kind == kind }
        case "source":
            guard let source = CheckIn.Source(rawValue: value) else { return nil }
            return { $0.event.source == source }
        default:
            return nil
        }
    }

    /// A number compared with a constant (`measure.sleep_hours < 5`), in one closure.
    static func compare(_ value: @escaping @Sendable (EvaluationContext) -> Double?, _ op: String, _ constant: Double)
        -> @Sendable (EvaluationContext) -> Bool
    {
        switch op {
        case "<": return { value($0).map { $0 < constant } ?? false }
        case "<=": return { value($0).map { $0 <= constant } ?? false }
        case ">": return { value($0).map { $0 > constant } ?? false }
        default: return { value($0).map { $0 >= constant } ?? false }
        }
    }

    static func arithmetic(_ op: String) -> @Sendable (Double, Double) -> Double? {
        switch op {
        case "+": return { $0 + $1 }
        case "-": return { $0 - $1 }
        case "*": return { $0 * $1 }
        default: return { $1 == 0 ? nil : $0 / $1 }
        }
    }

    static func ordering(_ op: String) -> @Sendable (Double, Double) -> Bool {
        switch op {
        case "<": return { $0 < $1 }
        case "<=": return { $0 <= $1 }
        case ">": return { $0 > $1 }
        default: return { $0 >= $1 }
        }
    }
}
