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

    public init(
        id: String, origin: ExpressionOrigin, summary: String, condition: SourceText, absence: Absence? = nil,
        weight: Double, halfLife: TimeSpan = RuleDefinition.defaultHalfLife, floor: Tier? = nil, evidence: String,
        tags: [String] = []
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
    }

    public static let defaultHalfLife = TimeSpan.hours(72)
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
    /// Set for an `absent:` rule, whose `condition` is then its match.
    public let absence: Absence?
    let condition: @Sendable (EvaluationContext) -> Bool
}

/// The compiled rule set: evaluated on every new event of a client, against its own history.
public struct RuleSet: Sendable {
    /// Every rule, in file order.
    public let rules: [CompiledRule]
    /// The `when:` rules, tested on each new event.
    let eventRules: [CompiledRule]
    /// The `absent:` rules, tested on a timer.
    public let absenceRules: [CompiledRule]
    /// How much of a client's history any rule looks at: history older than this is never read.
    public let lookBack: TimeSpan

    /// The longest half-life of any rule (the default when there are no rules).
    public var longestHalfLife: TimeSpan {
        rules.map(\.halfLife).max() ?? RuleDefinition.defaultHalfLife
    }

    /// Checks and compiles every rule; returns every error found, not only the first.
    public static func compile(_ source: RuleSource, vocabulary: Vocabulary) throws(SourceErrors) -> RuleSet {
        var errors: [SourceError] = []
        var lookBack = TimeSpan(microseconds: 0)
        var lists: [String: [String]] = [:]
        for list in source.lists {
            if lists[list.name] != nil || Compiler.functions.contains(list.name) {
                errors.append(
                    list.origin.error(at: 0, in: "", "list '\(list.name)' is defined twice or shadows a name"))
            }
            lists[list.name] = list.codes
        }
        var conditions: [String: @Sendable (EvaluationContext) -> Bool] = [:]
        // Conditions may use conditions defined before them (which rules out cycles by construction).
        for (name, expression) in source.conditions {
            if conditions[name] != nil || lists[name] != nil {
                errors.append(
                    expression.origin.error(at: 0, in: "", "condition '\(name)' is defined twice or shadows a list"))
                continue
            }
            do {
                var compiler = Compiler(
                    vocabulary: vocabulary, text: expression.text, origin: expression.origin, conditions: conditions,
                    lists: lists)
                conditions[name] = try compiler.condition(try Parser.parse(expression.text, origin: expression.origin))
                if compiler.lookBack > lookBack { lookBack = compiler.lookBack }
            } catch {
                errors.append(error)
            }
        }
        var seen: Set<String> = []
        var rules: [CompiledRule] = []
        for definition in source.rules {
            if !seen.insert(definition.id).inserted {
                errors.append(definition.origin.error(at: 0, in: "", "duplicate rule id '\(definition.id)'"))
            }
            if !isKebabCase(definition.id) {
                errors.append(
                    definition.origin.error(
                        at: 0, in: "", "rule id '\(definition.id)' must be kebab-case (a-z, 0-9, -)"))
            }
            do {
                let text = definition.condition
                var compiler = Compiler(
                    vocabulary: vocabulary, text: text.text, origin: text.origin, conditions: conditions, lists: lists)
                if definition.absence != nil { compiler.aggregatesRefused = "an absent: rule's match" }
                let condition = try compiler.condition(try Parser.parse(text.text, origin: text.origin))
                if compiler.lookBack > lookBack { lookBack = compiler.lookBack }
                // The last matching event must stay in the history until its absence can have fired.
                if let absence = definition.absence, absence.duration > lookBack { lookBack = absence.duration }
                rules.append(
                    CompiledRule(
                        id: definition.id, summary: definition.summary, weight: definition.weight,
                        halfLife: definition.halfLife, floor: definition.floor, evidence: definition.evidence,
                        tags: definition.tags, absence: definition.absence, condition: condition))
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw SourceErrors(errors: errors) }
        return RuleSet(
            rules: rules, eventRules: rules.filter { $0.absence == nil },
            absenceRules: rules.filter { $0.absence != nil }, lookBack: lookBack)
    }

    /// The rules that fire on `event`, given the client's earlier events (sorted by observation time).
    public func firings(for event: ObservedEvent, history: ArraySlice<ObservedEvent>) -> [Firing] {
        let context = EvaluationContext(event: event, history: history)
        let checkIn = event.checkIn
        return eventRules.compactMap { rule in
            guard rule.condition(context) else { return nil }
            return Firing(
                rule: rule.id, event: checkIn.id, at: checkIn.at, weight: rule.weight, halfLife: rule.halfLife,
                floor: rule.floor)
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
