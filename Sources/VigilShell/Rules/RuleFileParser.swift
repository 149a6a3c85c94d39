import VigilCore
import Yams

/// Reads one rules file (`rules:`, `conditions:`, `lists:`) or `policy.yaml` (`tiers:`, `plans:`) into
/// the core's definitions with a `YAMLReader`, keeping each expression's line and column for error
/// messages. Every mistake is reported: each of every rule (whose condition is checked even when
/// other keys are wrong), and a plan task's first one.
struct RuleFileParser {
    let reader: YAMLReader

    init(path: String, text: String) {
        reader = YAMLReader(path: path, text: text)
    }

    var path: String { reader.path }

    func error(_ node: Node?, _ message: String) -> SourceError { reader.error(message, at: node) }

    // MARK: - policy.yaml

    static let tierNames = ["moderate", "high", "imminent"]

    /// `tiers:` (thresholds, required) and `plans:` (per tier, the task templates; optional).
    func policy() throws(SourceErrors) -> (thresholds: TierThresholds, plans: ResponsePlans) {
        guard let root = reader.root(known: ["tiers", "plans"]) else { throw SourceErrors(errors: reader.errors) }
        var thresholds: [String: Double] = [:]
        if let tiers = root.map("tiers", known: nil, "tiers must be a mapping of tier: score") {
            for entry in tiers.entries {
                guard Self.tierNames.contains(entry.name) else {
                    reader.report(
                        "unknown tier '\(entry.name)' (thresholds: moderate, high, imminent; below moderate is low)",
                        at: entry.key)
                    continue
                }
                guard let score = entry.value.float, (0...100).contains(score) else {
                    reader.report("the \(entry.name) threshold must be a score from 0 to 100", at: entry.value)
                    continue
                }
                thresholds[entry.name] = score
            }
        }
        let plans = root.map("plans", known: nil, "plans must be a mapping of tier: list of tasks").map(self.plans)
        try reader.finish()
        guard let moderate = thresholds["moderate"], let high = thresholds["high"],
            let imminent = thresholds["imminent"]
        else {
            throw SourceErrors(errors: [reader.error("tiers must set moderate, high and imminent", at: root["tiers"])])
        }
        guard moderate < high, high < imminent else {
            throw SourceErrors(errors: [
                reader.error("thresholds must rise: moderate < high < imminent", at: root["tiers"])
            ])
        }
        return (TierThresholds(moderate: moderate, high: high, imminent: imminent), plans ?? ResponsePlans())
    }

    static let templateKeys = ["kind", "due", "route", "instruction"]

    /// `plans: {TIER: [{kind, due, route, instruction}, …]}`.
    func plans(_ mapping: YAMLMap) -> ResponsePlans {
        var plans: [Tier: [TaskTemplate]] = [:]
        for entry in mapping.entries {
            guard let tier = Tier(rawValue: entry.name), tier != .low else {
                reader.report("unknown tier '\(entry.name)' (plans: moderate, high, imminent)", at: entry.key)
                continue
            }
            guard let items = mapping.list(entry.name, "the \(entry.name) plan must be a list of tasks") else {
                continue
            }
            plans[tier] = items.compactMap { (item) -> TaskTemplate? in
                do throws(SourceError) {
                    return try template(item.node, path: item.path)
                } catch {
                    reader.report(error)
                    return nil
                }
            }
        }
        return ResponsePlans(plans)
    }

    func template(_ node: Node, path: String) throws(SourceError) -> TaskTemplate? {
        let problem = "a plan task must be a mapping (\(Self.templateKeys.joined(separator: ", ")))"
        guard let fields = reader.map(node, path: path, known: Self.templateKeys, what: problem) else { return nil }
        func text(_ key: String) throws(SourceError) -> (String, Node) {
            guard let value = fields[key] else { throw error(node, "a plan task needs '\(key)'") }
            guard let string = value.string.map(Self.withoutFinalNewlines), !string.isEmpty else {
                throw error(value, "'\(key)' must be non-empty text")
            }
            return (string, value)
        }
        let (kindText, kindNode) = try text("kind")
        guard let kind = TaskKind(rawValue: kindText), kind != .overdue else {
            let known = TaskKind.allCases.filter { $0 != .overdue }.map(\.rawValue).joined(separator: ", ")
            throw error(kindNode, "unknown task kind '\(kindText)' (known: \(known))")
        }
        let (dueText, dueNode) = try text("due")
        guard let schedule = TaskSchedule.parse(dueText) else {
            throw error(
                dueNode,
                "'\(dueText)' is not a due time (now, within 4h, at 24h, daily for 7d; at most \(TaskSchedule.longestDaily) days)"
            )
        }
        let (route, routeNode) = try text("route")
        let (instruction, instructionNode) = try text("instruction")
        for (key, value, node) in [("route", route, routeNode), ("instruction", instruction, instructionNode)]
        where LogText.hasControlCharacters(value) {
            throw error(
                node, "\(key) has a control character (a newline, an escape sequence): \(LogText.escaped(value))")
        }
        return TaskTemplate(kind: kind, schedule: schedule, route: route, instruction: instruction)
    }

    /// A YAML block scalar (`summary: >`) ends in a newline: not part of the text, and not a control
    /// character to refuse. (A newline inside the text is.)
    static func withoutFinalNewlines(_ text: String) -> String {
        var text = text
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    // MARK: - Rule files

    func rules(into source: inout RuleSource) throws(SourceErrors) {
        guard let root = reader.root(known: ["rules", "conditions", "lists"]) else {
            throw SourceErrors(errors: reader.errors)
        }
        for entry in root.map("conditions", known: nil, "conditions must map names to expressions")?.entries ?? [] {
            guard let expression = expressionText(entry.value) else {
                reader.report("a condition is a name and an expression string", at: entry.value)
                continue
            }
            source.conditions.append((entry.name, expression))
        }
        if let lists = root.map("lists", known: nil, "lists must map names to lists of codes") {
            for entry in lists.entries {
                if let items = lists.strings(entry.name, "a list is a name and a list of strings") {
                    source.lists.append((entry.name, items, origin(entry.key)))
                }
            }
        }
        for item in root.list("rules", "rules must be a list") ?? [] {
            if let rule = rule(item.node, path: item.path) { source.rules.append(rule) }
        }
        try reader.finish()
    }

    static let ruleKeys = ["id", "summary", "when", "absent", "weight", "half_life", "floor", "evidence", "tags"]

    /// One rule, every problem of it reported. Nil when it is not a mapping, or has no usable id or
    /// condition; a rule with other problems is still returned, with neutral values in place of the
    /// wrong ones, so that its condition is checked in the same run (the file is refused anyway).
    func rule(_ node: Node, path: String) -> RuleDefinition? {
        guard let fields = reader.map(node, path: path, known: Self.ruleKeys, what: "a rule must be a mapping") else {
            return nil
        }
        func required(_ key: String) -> Node? {
            if fields[key] == nil { reader.report("rule is missing '\(key)'", at: node) }
            return fields[key]
        }
        var id: String?
        if let value = required("id") {
            if let text = value.string, !LogText.hasControlCharacters(text) {
                id = text
            } else if let text = value.string {
                reader.report("rule '\(LogText.escaped(text))': id has a control character", at: value)
            } else {
                reader.report("id must be a string", at: value)
            }
        }
        // How the other messages name the rule.
        let name = id ?? path
        var summary: String?
        if let value = required("summary") {
            summary = value.string.map(Self.withoutFinalNewlines).flatMap { $0.isEmpty ? nil : $0 }
            if summary == nil { reader.report("rule '\(name)': summary must be a non-empty string", at: value) }
            // Rule text reaches logs, alerts and terminals (client show, queue show) as it is.
            if let text = summary, LogText.hasControlCharacters(text) {
                reader.report(
                    "rule '\(name)': summary has a control character (a newline, an escape sequence): \(LogText.escaped(text))",
                    at: value)
            }
        }
        var condition: SourceText?
        var absence: Absence?
        switch (fields["when"], fields["absent"]) {
        case (let when?, nil):
            condition = expressionText(when)
            if condition == nil { reader.report("rule '\(name)': when must be an expression string", at: when) }
        case (nil, let absent?):
            (condition, absence) = self.absence(absent, path: path + ".absent", rule: name)
        case (_?, _?):
            reader.report("rule '\(name)': give exactly one of when: or absent:, not both", at: fields["absent"])
        case (nil, nil):
            reader.report("rule '\(name)' needs when: (tested on each event) or absent: (tested on a timer)", at: node)
        }
        var weight: Double?
        if let value = required("weight") {
            weight = value.float.flatMap { (-100...100).contains($0) ? $0 : nil }
            if weight == nil { reader.report("rule '\(name)': weight must be a number from -100 to 100", at: value) }
        }
        var evidence: String?
        if let value = required("evidence") {
            evidence = value.string.flatMap { $0.isEmpty ? nil : $0 }
            if evidence == nil {
                reader.report("rule '\(name)': evidence must say where the rule comes from", at: value)
            }
        }
        var halfLife: TimeSpan?
        if let value = fields["half_life"] {
            halfLife = value.string.flatMap { TimeSpan(text: $0) }.flatMap { $0.microseconds > 0 ? $0 : nil }
            if halfLife == nil {
                reader.report(
                    "rule '\(name)': half_life must be a duration such as 72h or 7d (at most 100 years)", at: value)
            }
        }
        var floor: Tier?
        if let value = fields["floor"] {
            floor = value.string.flatMap { Tier(rawValue: $0) }
            if floor == nil {
                reader.report("rule '\(name)': floor must be one of low, moderate, high, imminent", at: value)
            }
        }
        let tags = fields.strings("tags", "rule '\(name)': tags must be a list of strings") ?? []
        guard let id, let condition else { return nil }
        return RuleDefinition(
            id: id, origin: origin(fields["id"] ?? node), summary: summary ?? "",
            condition: condition, absence: absence, weight: weight ?? 0,
            halfLife: halfLife ?? RuleDefinition.defaultHalfLife, floor: floor, evidence: evidence ?? "", tags: tags)
    }

    static let absenceKeys = ["match", "for", "tier_at_least"]

    /// `absent: {match: EXPR, for: DURATION, tier_at_least: TIER}`, every problem reported. The match
    /// (nil when it is missing) comes with the absence, which holds a neutral value for a wrong `for:`
    /// or `tier_at_least:` (reported: the file is refused) so that the match is still checked.
    func absence(_ node: Node, path: String, rule id: String) -> (SourceText?, Absence?) {
        let problem = "rule '\(id)': absent: must be a mapping with match:, for: and optionally tier_at_least:"
        guard let fields = reader.map(node, path: path, known: Self.absenceKeys, what: problem) else {
            return (nil, nil)
        }
        let condition = fields["match"].flatMap(expressionText)
        if condition == nil {
            reader.report(
                "rule '\(id)': absent: needs match:, the events that count as contact", at: fields["match"] ?? node)
        }
        let duration = fields["for"]?.string.flatMap { TimeSpan(text: $0) }.flatMap { $0.microseconds > 0 ? $0 : nil }
        if duration == nil {
            reader.report(
                "rule '\(id)': absent: needs for:, a duration such as 48h (at most 100 years)",
                at: fields["for"] ?? node)
        }
        var tier: Tier?
        if let value = fields["tier_at_least"] {
            tier = value.string.flatMap { Tier(rawValue: $0) }
            if tier == nil {
                reader.report("rule '\(id)': tier_at_least must be one of low, moderate, high, imminent", at: value)
            }
        }
        return (condition, Absence(duration: duration ?? .hours(48), tierAtLeast: tier ?? .low))
    }

    func origin(_ node: Node) -> ExpressionOrigin {
        let line = node.mark?.line ?? 1
        return ExpressionOrigin(
            file: path, line: line, column: node.mark?.column ?? 1, sourceLine: reader.sourceLine(line))
    }

    /// An expression scalar and where its first character is: after the quote of a quoted scalar,
    /// on the next line for a block scalar (`|` or `>`).
    func expressionText(_ node: Node) -> SourceText? {
        guard let scalar = node.scalar, let mark = node.mark else { return nil }
        switch scalar.style {
        case .singleQuoted, .doubleQuoted:
            return SourceText(
                scalar.string,
                origin: ExpressionOrigin(
                    file: path, line: mark.line, column: mark.column + 1, sourceLine: reader.sourceLine(mark.line)))
        case .literal, .folded:
            let line = mark.line + 1
            let indent = reader.sourceLine(line).map { $0.prefix { $0 == " " }.count } ?? 0
            return SourceText(
                scalar.string,
                origin: ExpressionOrigin(
                    file: path, line: line, column: indent + 1, sourceLine: reader.sourceLine(line)))
        default:
            return SourceText(scalar.string, origin: origin(node))
        }
    }
}
