/// Expression text and where it was written.
public struct SourceText: Sendable {
    public var text: String
    public var origin: ExpressionOrigin

    public init(_ text: String, origin: ExpressionOrigin) {
        self.text = text
        self.origin = origin
    }
}

/// What makes an `absent:` rule fire: no event matching its condition for `duration`, while the
/// client's tier is at least `tierAtLeast`.
public struct Absence: Equatable, Sendable {
    public var duration: TimeSpan
    public var tierAtLeast: Tier

    public init(duration: TimeSpan, tierAtLeast: Tier = .low) {
        self.duration = duration
        self.tierAtLeast = tierAtLeast
    }
}

/// A warning-sign rule as written in a rules file, before it is checked and compiled.
public struct RuleDefinition: Sendable {
    public var id: String
    /// Where the rule starts, for errors about the rule as a whole.
    public var origin: ExpressionOrigin
    public var summary: String
    /// `when:`, tested on each new event; for an `absent:` rule, its `match:` (the events that count
    /// as hearing from the client).
    public var condition: SourceText
    /// Set for an `absent:` rule.
    public var absence: Absence?
    public var weight: Double
    public var halfLife: TimeSpan
    public var floor: Tier?
    public var evidence: String
    public var tags: [String]
    /// The risk domain it scores in (nil: the policy's first).
    public var domain: String?
    /// Whether a firing is an acute marker (see `Acuteness`).
    public var acute: Acuteness
    /// How long a firing counts, instead of four half-lives (`active_for:`, e.g. an instrument's
    /// recall window).
    public var activeFor: TimeSpan?
    /// `repeat: once_per SPAN`: a firing replaces the rule's firings of the span before it, so a
    /// sign reported again and again counts once (the newest).
    public var repeatWindow: TimeSpan?
    /// `replaced_by: EXPR`: a later event matching it ends the rule's earlier firings (a screening's
    /// result holds until the next screening).
    public var replacedBy: SourceText?

    public init(
        id: String, origin: ExpressionOrigin, summary: String, condition: SourceText, absence: Absence? = nil,
        weight: Double, halfLife: TimeSpan = RuleDefinition.defaultHalfLife, floor: Tier? = nil, evidence: String,
        tags: [String] = [], domain: String? = nil, acute: Acuteness = .no, activeFor: TimeSpan? = nil,
        repeatWindow: TimeSpan? = nil, replacedBy: SourceText? = nil
    ) {
        self.id = id
        self.origin = origin
        self.summary = summary
        self.condition = condition
        self.absence = absence
        self.weight = weight
        self.halfLife = halfLife
        self.floor = floor
        self.evidence = evidence
        self.tags = tags
        self.domain = domain
        self.acute = acute
        self.activeFor = activeFor
        self.repeatWindow = repeatWindow
        self.replacedBy = replacedBy
    }

    public static let defaultHalfLife = TimeSpan.hours(72)
}

/// Whether a rule's firing is an acute marker, which the top tier needs (`acute:` in a rule file).
public enum Acuteness: Equatable, Sendable {
    /// It is not (`acute:` left out, or `false`).
    case no
    /// While the firing counts (`acute: true`).
    case whileActive
    /// For a span after it fired (`acute: 24h`).
    case within(TimeSpan)

    /// How long after it fired a firing of a rule with this half-life is acute (zero: never).
    /// How long after it fired a firing that counts for `active` is an acute marker (zero: never).
    func span(active: TimeSpan) -> TimeSpan {
        switch self {
        case .no: return .seconds(0)
        case .whileActive: return active
        case .within(let span): return span
        }
    }
}

/// Everything the rules files define: rules, shared named conditions and shared lists.
public struct RuleSource: Sendable {
    public var rules: [RuleDefinition] = []
    public var conditions: [(name: String, expression: SourceText)] = []
    public var lists: [(name: String, codes: [String], origin: ExpressionOrigin)] = []

    public init() {}
}

/// A checked, compiled rule.
public struct CompiledRule: Sendable {
    public let id: String
    public let summary: String
    public let weight: Double
    public let halfLife: TimeSpan
    public let floor: Tier?
    public let evidence: String
    public let tags: [String]
    /// Its domain's position in the policy's domains, and the name it was written with.
    public let domain: Int
    public let domainName: String
    /// How long after it fired a firing is an acute marker (zero: never).
    public let acuteFor: TimeSpan
    /// How long a firing counts.
    public let activeFor: TimeSpan
    /// Set for an `absent:` rule, whose `condition` is then its match.
    public let absence: Absence?
    /// For an `absent:` rule, the bit of its match in `EventFacts` (0 otherwise).
    let matchBit: UInt64
    /// What an event must have for the rule to be able to fire on it.
    let prefilter: Prefilter
    let condition: @Sendable (EvaluationContext) -> Bool
}

extension CompiledRule {
    /// A firing of this rule by `event` (empty for an absence) at `at`.
    public func firing(event: String, at: Timestamp) -> Firing {
        Firing(
            rule: id, event: event, at: at, weight: weight, halfLife: halfLife, floor: floor, domain: domain,
            acuteFor: acuteFor, activeFor: activeFor)
    }
}

/// The compiled rule set: evaluated on every new event of a client, against its own history.
///
/// Immutable, and a class: every client's state holds it, and a reference is copied with one
/// retain where a struct of these arrays would take one per array.
public final class RuleSet: Sendable {
    /// The summary of the rule with this id ("" when there is none).
    public func summary(of rule: String) -> String { rules.first { $0.id == rule }?.summary ?? "" }

    /// Every rule, in file order.
    public let rules: [CompiledRule]
    /// The `when:` rules, tested on each new event.
    public let eventRules: [CompiledRule]
    /// Their conditions, in the same order: the loop over them per event touches nothing else.
    let eventConditions: [Condition]
    /// Their prefilters' bits (`Prefilter.bit`), in the same order: a rule whose prefilter fails
    /// is not tested.
    let eventPrefilterBits: [UInt64]
    /// Their firings, in the same order, waiting for an event's id and time.
    let eventFirings: [Firing]
    /// The `absent:` rules, tested on a timer.
    public let absenceRules: [CompiledRule]
    /// Parallel to `eventRules`: each rule's `repeat: once_per` window in µs (0: none), and the
    /// history bit of its `replaced_by:` (0: none; an event with the bit ends its earlier firings,
    /// and a firing that arrives late sees that a later event already did).
    let eventRepeatWindows: [Int64]
    let eventReplacementBits: [UInt64]
    /// Whether any event rule has a repeat window or a `replaced_by:`.
    let endsFirings: Bool
    /// Each event rule's position in `eventRules`, by id.
    let eventRuleIndex: [String: Int]
    /// How much of a client's history any rule looks at: history older than this is never read.
    public let lookBack: TimeSpan
    /// The vocabulary codes the rules and conditions read, by list.
    public let codesRead: [Vocabulary.List: Set<String>]
    /// The inputs of every aggregate, computed once per event when it is recorded (see `History`).
    let conditionInputs: [Condition]
    let numberInputs: [NumberInput]

    init(
        rules: [CompiledRule], eventRules: [CompiledRule], eventConditions: [Condition],
        eventPrefilterBits: [UInt64], eventFirings: [Firing], absenceRules: [CompiledRule],
        eventRepeatWindows: [Int64], eventReplacementBits: [UInt64], endsFirings: Bool,
        eventRuleIndex: [String: Int], lookBack: TimeSpan, codesRead: [Vocabulary.List: Set<String>],
        conditionInputs: [Condition], numberInputs: [NumberInput]
    ) {
        self.rules = rules
        self.eventRules = eventRules
        self.eventConditions = eventConditions
        self.eventPrefilterBits = eventPrefilterBits
        self.eventFirings = eventFirings
        self.absenceRules = absenceRules
        self.eventRepeatWindows = eventRepeatWindows
        self.eventReplacementBits = eventReplacementBits
        self.endsFirings = endsFirings
        self.eventRuleIndex = eventRuleIndex
        self.lookBack = lookBack
        self.codesRead = codesRead
        self.conditionInputs = conditionInputs
        self.numberInputs = numberInputs
    }

    /// The longest half-life of any rule (the default when there are no rules).
    public var longestHalfLife: TimeSpan {
        rules.map(\.halfLife).max() ?? RuleDefinition.defaultHalfLife
    }

    /// The longest span any rule's firing counts for: how far back a firing can still count.
    public var longestActiveSpan: TimeSpan {
        rules.map(\.activeFor).max() ?? Contribution.activeSpan(halfLife: RuleDefinition.defaultHalfLife)
    }

    /// Checks and compiles every rule against the vocabulary and the policy's domain names (a rule
    /// must name one of them when there are any); returns every error found, not only the first.
    public static func compile(
        _ source: RuleSource, vocabulary: Vocabulary, domains declared: [String] = []
    ) throws(SourceErrors) -> RuleSet {
        let names = declared.isEmpty ? [ScoringPolicy.implicitDomain] : declared
        var errors: [SourceError] = []
        var lookBack = TimeSpan(microseconds: 0)
        var codesRead: [Vocabulary.List: Set<String>] = [:]
        let inputs = AggregateInputs()
        var lists: [String: [String]] = [:]
        for list in source.lists {
            if lists[list.name] != nil || Compiler.functions.contains(list.name) {
                errors.append(
                    list.origin.error(at: 0, in: "", "list '\(list.name)' is defined twice or shadows a name"))
            }
            lists[list.name] = list.codes
        }
        var conditions: [String: Condition] = [:]
        var prefilters: [String: Prefilter] = [:]
        var aggregateConditions: Set<String> = []
        // Conditions may use conditions defined before them (which rules out cycles by construction).
        for (name, expression) in source.conditions {
            if conditions[name] != nil || lists[name] != nil {
                errors.append(
                    expression.origin.error(at: 0, in: "", "condition '\(name)' is defined twice or shadows a list"))
                continue
            }
            var compiler = Compiler(
                vocabulary: vocabulary, text: expression.text, origin: expression.origin, conditions: conditions,
                aggregateConditions: aggregateConditions, lists: lists, inputs: inputs)
            do {
                let syntax = try Parser.parse(expression.text, origin: expression.origin)
                conditions[name] = Condition(test: try compiler.condition(syntax))
                prefilters[name] = Prefilter.of(syntax, conditions: prefilters)
                if compiler.usesAggregate { aggregateConditions.insert(name) }
                if compiler.lookBack > lookBack { lookBack = compiler.lookBack }
                codesRead.merge(compiler.codesRead) { $0.union($1) }
            } catch {
                errors.append(error)
                errors += compiler.moreErrors
            }
        }
        var seen: Set<String> = []
        var rules: [CompiledRule] = []
        var replacementBits: [String: UInt64] = [:]
        var repeatWindows: [String: TimeSpan] = [:]
        // One history bit per distinct `replaced_by:` text, however many rules share it.
        var bitsByText: [String: UInt64] = [:]
        for definition in source.rules {
            if !seen.insert(definition.id).inserted {
                errors.append(definition.origin.error(at: 0, in: "", "duplicate rule id '\(definition.id)'"))
            }
            if !isKebabCase(definition.id) {
                errors.append(
                    definition.origin.error(
                        at: 0, in: "", "rule id '\(definition.id)' must be kebab-case (a-z, 0-9, -)"))
            }
            var domain = 0
            switch (definition.domain, !declared.isEmpty) {
            case (let name?, _):
                if let index = names.firstIndex(of: name) {
                    domain = index
                } else {
                    errors.append(
                        definition.origin.error(
                            at: 0, in: "",
                            "rule '\(definition.id)': unknown domain '\(name)' (policy.yaml declares: \(names.joined(separator: ", ")))"
                        ))
                }
            case (nil, true):
                errors.append(
                    definition.origin.error(
                        at: 0, in: "",
                        "rule '\(definition.id)' needs domain: (one of \(names.joined(separator: ", ")))"))
            case (nil, false): break
            }
            let text = definition.condition
            var compiler = Compiler(
                vocabulary: vocabulary, text: text.text, origin: text.origin, conditions: conditions,
                aggregateConditions: aggregateConditions, lists: lists, inputs: inputs)
            if definition.absence != nil { compiler.aggregatesRefused = "an absent: rule's match" }
            do {
                let syntax = try Parser.parse(text.text, origin: text.origin)
                let condition = try compiler.condition(syntax)
                // An absent: rule's match is an input too: its silences are found in the facts.
                let matchBit = definition.absence == nil ? 0 : try compiler.conditionInput(condition, syntax)
                if compiler.lookBack > lookBack { lookBack = compiler.lookBack }
                codesRead.merge(compiler.codesRead) { $0.union($1) }
                let activeFor = definition.activeFor ?? Contribution.activeSpan(halfLife: definition.halfLife)
                if let text = definition.replacedBy {
                    var bit = bitsByText[text.text] ?? 0
                    if bit == 0 {
                        bit = try replacementBit(
                            text, vocabulary: vocabulary, lists: lists, inputs: inputs, codesRead: &codesRead)
                    }
                    bitsByText[text.text] = bit
                    replacementBits[definition.id] = bit
                }
                if let window = definition.repeatWindow { repeatWindows[definition.id] = window }
                // The last matching event must stay in the history until its absence can have fired.
                if let absence = definition.absence, absence.duration > lookBack { lookBack = absence.duration }
                rules.append(
                    CompiledRule(
                        id: definition.id, summary: definition.summary, weight: definition.weight,
                        halfLife: definition.halfLife, floor: definition.floor, evidence: definition.evidence,
                        tags: definition.tags, domain: domain, domainName: names[domain],
                        acuteFor: definition.acute.span(active: activeFor), activeFor: activeFor,
                        absence: definition.absence, matchBit: matchBit,
                        prefilter: Prefilter.of(syntax, conditions: prefilters), condition: condition))
            } catch {
                errors.append(error)
                errors += compiler.moreErrors
            }
        }
        guard errors.isEmpty else { throw SourceErrors(errors: errors) }
        let eventRules = rules.filter { $0.absence == nil }
        return RuleSet(
            rules: rules, eventRules: eventRules, eventConditions: eventRules.map { Condition(test: $0.condition) },
            eventPrefilterBits: eventRules.map(\.prefilter.bit),
            eventFirings: eventRules.map {
                $0.firing(event: "", at: .init(microseconds: 0))
            },
            absenceRules: rules.filter { $0.absence != nil },
            eventRepeatWindows: eventRules.map { repeatWindows[$0.id]?.microseconds ?? 0 },
            eventReplacementBits: eventRules.map { replacementBits[$0.id] ?? 0 },
            endsFirings: !repeatWindows.isEmpty || !replacementBits.isEmpty,
            eventRuleIndex: Dictionary(eventRules.enumerated().map { ($1.id, $0) }) { first, _ in first },
            lookBack: lookBack,
            codesRead: codesRead,
            conditionInputs: inputs.conditions,
            numberInputs: inputs.numbers)
    }

    /// Compiles a rule's `replaced_by:` into a history bit: tested on the event alone (no
    /// aggregates), reading vocabulary codes as any condition does.
    static func replacementBit(
        _ text: SourceText, vocabulary: Vocabulary, lists: [String: [String]], inputs: AggregateInputs,
        codesRead: inout [Vocabulary.List: Set<String>]
    ) throws(SourceError) -> UInt64 {
        var compiler = Compiler(
            vocabulary: vocabulary, text: text.text, origin: text.origin, conditions: [:], aggregateConditions: [],
            lists: lists, inputs: inputs)
        compiler.aggregatesRefused = "replaced_by:"
        let syntax = try Parser.parse(text.text, origin: text.origin)
        let condition = try compiler.condition(syntax)
        codesRead.merge(compiler.codesRead) { $0.union($1) }
        return try compiler.conditionInput(condition, syntax)
    }

    /// An empty history for this rule set.
    public func emptyHistory() -> History { History(stride: numberInputs.count, conditions: conditionInputs.count) }

    /// Computes `event`'s aggregate inputs and adds it to `history` (and a plan it carries to the
    /// history's plans); returns its condition bits.
    @discardableResult
    public func record(_ event: ObservedEvent, in history: inout History) -> UInt64 {
        let alone = EvaluationContext(alone: event)
        var bits: UInt64 = 0
        for (index, condition) in conditionInputs.enumerated() where condition.test(alone) {
            bits |= 1 << UInt64(index)
        }
        history.insert(
            EventFacts(at: event.checkIn.at, conditions: bits),
            numbers: numberInputs.lazy.map { $0.read(event) ?? .nan })
        if let plan = event.checkIn.plan { history.insert(plan: plan, at: event.checkIn.at) }
        return bits
    }

    /// The rules that fire on `event`, given the client's earlier events.
    public func firings(for event: ObservedEvent, history: History) -> [Firing] {
        firedRules(for: event, history: history).map { firing(of: $0, by: event) }
    }

    /// The positions in `eventRules` of the rules that fire on `event`: the rule evaluation itself,
    /// before any firing is made of it.
    public func firedRules(for event: ObservedEvent, history: History) -> [Int] {
        let context = EvaluationContext(event: event, history: history)
        let features = Prefilter.features(of: event.checkIn)
        var fired: [Int] = []
        // Through buffer pointers: calling each condition then retains nothing.
        eventConditions.withUnsafeBufferPointer { conditions in
            eventPrefilterBits.withUnsafeBufferPointer { prefilters in
                for index in conditions.indices
                where features & prefilters[index] != 0 && conditions[index].test(context) {
                    fired.append(index)
                }
            }
        }
        return fired
    }

    /// The firing of the event rule at `index` by `event`.
    func firing(of index: Int, by event: ObservedEvent) -> Firing {
        var firing = eventFirings[index]
        firing.event = event.checkIn.id
        firing.at = event.checkIn.at
        return firing
    }

    /// A domain's name: lowercase letters, digits and `_`, starting with a letter.
    public static func isSnakeCase(_ name: String) -> Bool {
        guard let first = name.utf8.first, (0x61...0x7A).contains(first) else { return false }
        return name.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_")
        }
    }

    static func isKebabCase(_ id: String) -> Bool {
        guard let first = id.utf8.first, (0x61...0x7A).contains(first), id.utf8.last != UInt8(ascii: "-") else {
            return false
        }
        return id.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-")
        }
    }
}
