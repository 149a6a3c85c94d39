/// The functions of the expression language: `has`, the windowed aggregates over the client's own
/// history (`count`, `avg`, `min`, `max`, `last`, `since`) and the code-list helpers (`any`, `size`).
extension Compiler {
    mutating func call(_ name: String, _ arguments: [Syntax], _ node: Syntax, inAggregate: Bool) throws(SourceError)
        -> Compiled
    {
        func arity(_ count: Int, _ usage: String) throws(SourceError) {
            guard arguments.count == count else {
                throw error(node, "\(name) takes \(count) argument\(count == 1 ? "" : "s"): \(usage)")
            }
        }
        let aggregates = ["count", "avg", "min", "max", "last", "since"]
        if aggregates.contains(name), inAggregate {
            throw error(node, "aggregates cannot be nested: \(name)(…) inside another aggregate's condition")
        }
        if aggregates.contains(name), let place = aggregatesRefused {
            throw error(node, "\(name)(…) cannot be used in \(place), which is tested on each event alone")
        }
        if aggregates.contains(name) { usesAggregate = true }
        switch name {
        case "has":
            try arity(1, "has(measure.NAME), has(screening.ANSWER), has(contact.task) or has(plan)")
            return try has(arguments[0], inAggregate: inAggregate)
        case "count":
            try arity(2, "count(CONDITION, WINDOW) e.g. count(\"job_loss\" in stressors, 7d)")
            let condition = try aggregateCondition(arguments[0])
            let window = try windowArgument(arguments[1])
            let bit = try conditionInput(condition, arguments[0])
            return .number { ctx in
                let earlier = ctx.history?.count(bit, within: window, endingAt: ctx.event.at) ?? 0
                return Double(earlier + (condition(ctx) ? 1 : 0))
            }
        case "avg", "min", "max":
            try arity(2, "\(name)(NUMBER, WINDOW) e.g. \(name)(measure.mood, 14d)")
            let value = try aggregateNumber(arguments[0])
            let window = try windowArgument(arguments[1])
            let slot = inputs.addNumber(value)
            let isMin = name == "min"
            let isAvg = name == "avg"
            return .number { ctx in
                var summary = ctx.history?.summary(slot, within: window, endingAt: ctx.event.at) ?? NumberSummary()
                if let current = value(ctx.observed), !current.isNaN { summary.add(current) }
                guard summary.count > 0 else { return nil }
                return isAvg ? summary.sum / Double(summary.count) : (isMin ? summary.minimum : summary.maximum)
            }
        case "last":
            try arity(1, "last(NUMBER) e.g. last(measure.mood): its value at the client's previous event that had it")
            let slot = inputs.addNumber(try aggregateNumber(arguments[0]))
            extend(Self.defaultLookBack)
            return .number { ctx in ctx.history?.last(slot, before: ctx.event.at) }
        case "since":
            try arity(1, "since(CONDITION) e.g. since(kind == \"overdose\") < 30d")
            let bit = try conditionInput(try aggregateCondition(arguments[0]), arguments[0])
            extend(Self.defaultLookBack)
            return .duration { ctx in
                let at = ctx.event.at
                return ctx.history?.lastMatch(bit, before: at).map {
                    TimeSpan(microseconds: at.microseconds - $0.microseconds)
                }
            }
        case "any":
            try arity(2, "any(CODES, LIST) e.g. any(stressors, [\"job_loss\", \"housing_loss\"])")
            let codes = try compile(arguments[0], inAggregate: inAggregate)
            let options = try compile(arguments[1], inAggregate: inAggregate)
            switch (codes, options) {
            case (.codes(let list), .strings(let wanted)):
                for code in wanted { try checkCode(code, list, arguments[1]) }
                return .bool(Self.reading(list) { $0.contains(where: wanted.contains) })
            case (.codes(let list), .planList(let planList)):
                // any(signs, plan.warning_signs): the event reports one of the client's own.
                guard planList.codes == list else {
                    throw error(
                        arguments[1],
                        "plan.\(planList.rawValue) does not hold \(list.rawValue) codes (plan.triggers holds stressors, plan.warning_signs signs)"
                    )
                }
                let read = planList.reader
                let event = Self.reading(list) { $0 }
                return .bool { ctx in
                    let own = read(ctx)
                    return !own.isEmpty && event(ctx).contains(where: own.contains)
                }
            case (.planList(let planList), .strings(let wanted)):
                for value in wanted {
                    if let list = planList.codes {
                        try checkCode(value, list, arguments[1])
                    } else {
                        try checkDomain(planList.domain, value, arguments[1])
                    }
                }
                let read = planList.reader
                return .bool { read($0).contains(where: wanted.contains) }
            case (.codes, _), (.planList, _):
                throw error(
                    arguments[1], "any(…) needs a list second (of codes, or a plan list), not a \(options.typeName)")
            default:
                throw error(
                    arguments[0],
                    "any(…) needs a code list (signs, stressors, protective) or a plan list first, not a \(codes.typeName)"
                )
            }
        case "size":
            try arity(1, "size(CODES) e.g. size(stressors) >= 2")
            let codes = try compile(arguments[0], inAggregate: inAggregate)
            if case .planList(let planList) = codes {
                let read = planList.reader
                return .number { Double(read($0).count) }
            }
            guard case .codes(let list) = codes else {
                throw error(arguments[0], "size(…) needs a code list or a plan list, not a \(codes.typeName)")
            }
            let count = Self.reading(list) { Double($0.count) }
            return .number { count($0) }
        default:
            let nearest = Self.functions.min { EditDistance.levenshtein($0, name) < EditDistance.levenshtein($1, name) }
            throw error(
                node,
                "unknown function '\(name)'\(nearest.map { "; did you mean \($0)?" } ?? "") (known: \(Self.functions.joined(separator: ", ")))"
            )
        }
    }

    func has(_ argument: Syntax, inAggregate: Bool) throws(SourceError) -> Compiled {
        if case .path(["plan"], _) = argument {
            try checkPlanAllowed(argument, inAggregate: inAggregate)
            return .bool { ctx in ctx.history?.plan(at: ctx.event.at) != nil }
        }
        guard case .path(let path, _) = argument, path.count == 2 else {
            throw error(argument, "has(…) takes a field path such as measure.mood, or plan")
        }
        switch path[0] {
        case "measure":
            let measure = path[1]
            try checkMeasure(measure, argument)
            return .bool { $0.event.measure(measure) != nil }
        case "screening":
            guard let read = Self.screeningReader(path[1]) else {
                throw error(argument, "unknown screening answer '\(path[1])'")
            }
            return .bool { read($0.event.screening) != nil }
        case "contact" where path[1] == "task":
            return .bool { $0.event.contact?.task != nil }
        default:
            throw error(argument, "has(…) applies to measure.NAME, screening.ANSWER, contact.task or plan")
        }
    }

    mutating func aggregateCondition(_ syntax: Syntax) throws(SourceError) -> @Sendable (EvaluationContext) -> Bool {
        let compiled = try compile(syntax, inAggregate: true)
        guard case .bool(let closure) = compiled else {
            throw error(syntax, "the first argument must be a condition (boolean), not a \(compiled.typeName)")
        }
        return closure
    }

    /// The number an aggregate reads from each event; a plain `measure.NAME` (the common case) is read
    /// straight from the event, without a context per event.
    mutating func aggregateNumber(_ syntax: Syntax) throws(SourceError) -> @Sendable (ObservedEvent) -> Double? {
        let compiled = try compile(syntax, inAggregate: true)
        guard case .number(let closure) = compiled else {
            throw error(syntax, "the first argument must be a number such as measure.mood, not a \(compiled.typeName)")
        }
        if case .path(let path, _) = syntax, path.count == 2, path[0] == "measure" {
            let name = path[1]
            if let slot = KnownMeasures.slot(name) { return { slot($0.checkIn.known) } }
            return { $0.checkIn.measure(name) }
        }
        return { closure(EvaluationContext(alone: $0)) }
    }

    /// A window must be a duration literal (so the look-back is known at load time).
    mutating func windowArgument(_ syntax: Syntax) throws(SourceError) -> TimeSpan {
        guard case .duration(let span, _) = syntax else {
            throw error(syntax, "the window must be a duration literal such as 7d, 24h or 30m")
        }
        guard span.microseconds > 0 else { throw error(syntax, "the window must be positive") }
        extend(span)
        return span
    }

    mutating func extend(_ span: TimeSpan) { if span > lookBack { lookBack = span } }

    /// Registers an aggregate's condition as an input computed once per event; its bit in `EventFacts`.
    func conditionInput(_ condition: @escaping @Sendable (EvaluationContext) -> Bool, _ node: Syntax)
        throws(SourceError) -> UInt64
    {
        guard let bit = inputs.addCondition(condition) else {
            throw error(
                node, "too many aggregate conditions: a rule set may use at most \(AggregateInputs.maxConditions)")
        }
        return bit
    }
}
