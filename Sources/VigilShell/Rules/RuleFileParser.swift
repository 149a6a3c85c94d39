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

    static let policyKeys =
        ["tiers", "domains", "imminent_requires_acute", "hold", "reconcile", "plans"] + aftercareKeys

    /// `tiers:` (thresholds, required), `domains:` (optional; see `ScoringPolicy`), `plans:` (per tier,
    /// and per domain and tier, the task templates; optional), `reconcile:` (the task two disagreeing
    /// screenings within a day get; optional). A policy that declares domains gets
    /// the triage defaults: `imminent_requires_acute: true` and `hold: 72h`; one that does not, neither.
    func policy() throws(SourceErrors) -> (policy: ScoringPolicy, plans: ResponsePlans) {
        guard let root = reader.root(known: Self.policyKeys) else { throw SourceErrors(errors: reader.errors) }
        let thresholds = root.map("tiers", known: nil, "tiers must be a mapping of tier: score").flatMap(
            self.thresholds)
        var domains: [RiskDomain] = []
        if let mapping = root.map("domains", known: nil, "domains must map each risk domain to its settings") {
            domains = mapping.entries.compactMap { domain($0, in: mapping, thresholds: thresholds) }
        }
        let declared = !domains.isEmpty
        var requiresAcute = declared
        if let value = root["imminent_requires_acute"] {
            if let flag = value.bool {
                requiresAcute = flag
            } else {
                reader.report("imminent_requires_acute must be true or false", at: value)
            }
        }
        var hold = declared ? Self.defaultHold : TimeSpan.seconds(0)
        if let value = root["hold"] {
            if let span = value.string.flatMap({ TimeSpan(text: $0) }), span.microseconds >= 0 {
                hold = span
            } else {
                reader.report("hold must be a duration such as 72h (how long a reached tier holds)", at: value)
            }
        }
        var plans = root.map("plans", known: nil, "plans must be a mapping of tier (or domain): list of tasks").map {
            self.plans($0, domains: domains.map(\.name))
        }
        if let node = root["reconcile"] {
            do throws(SourceError) {
                if let template = try template(node, path: "reconcile") {
                    if plans == nil { plans = ResponsePlans() }
                    plans?.reconcile = template
                }
            } catch {
                reader.report(error)
            }
        }
        var responses = plans ?? ResponsePlans()
        let watchLowering: Double?
        (responses.aftercare, watchLowering) = aftercare(root)
        try reader.finish()
        guard let thresholds else {
            throw SourceErrors(errors: [reader.error("tiers must set moderate, high and imminent", at: root["tiers"])])
        }
        var policy = ScoringPolicy(
            thresholds: thresholds, domains: domains, imminentRequiresAcute: requiresAcute, hold: hold)
        policy.watchLowering = watchLowering
        return (policy, responses)
    }

    /// How long a reached tier holds in a policy with domains, unless it says otherwise.
    static let defaultHold = TimeSpan.hours(72)

    /// `{moderate: N, high: N, imminent: N}`, rising; nil (reported) otherwise.
    func thresholds(_ tiers: YAMLMap) -> TierThresholds? {
        var thresholds: [String: Double] = [:]
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
        guard let moderate = thresholds["moderate"], let high = thresholds["high"],
            let imminent = thresholds["imminent"]
        else {
            reader.report("tiers must set moderate, high and imminent", at: tiers.node)
            return nil
        }
        guard moderate < high, high < imminent else {
            reader.report("thresholds must rise: moderate < high < imminent", at: tiers.node)
            return nil
        }
        return TierThresholds(moderate: moderate, high: high, imminent: imminent)
    }

    static let domainKeys = ["cap", "tiers", "evidence"]

    /// One `domains:` entry: `NAME: {cap: TIER, tiers: {…}, evidence: TEXT}`, all optional but the
    /// evidence (a domain is a clinical choice).
    func domain(_ entry: YAMLMap.Entry, in domains: YAMLMap, thresholds: TierThresholds?) -> RiskDomain? {
        let name = entry.name
        guard RuleSet.isSnakeCase(name), Tier(rawValue: name) == nil else {
            reader.report("domain '\(name)': a name is lowercase letters, digits and _, and not a tier", at: entry.key)
            return nil
        }
        guard
            let fields = domains.map(
                name, known: Self.domainKeys,
                "domain '\(name)' must be a mapping (\(Self.domainKeys.joined(separator: ", ")))")
        else { return nil }
        if fields.string("evidence", "domain '\(name)': evidence must say where the domain comes from") == nil,
            fields["evidence"] == nil
        {
            reader.report("domain '\(name)' needs evidence:", at: entry.key)
        }
        var cap = Tier.imminent
        if let value = fields["cap"] {
            if let tier = value.string.flatMap(Tier.init(rawValue:)), tier != .low {
                cap = tier
            } else {
                reader.report("domain '\(name)': cap must be one of moderate, high, imminent", at: value)
            }
        }
        let own = fields.map("tiers", known: nil, "domain '\(name)': tiers must be a mapping of tier: score")
        guard let tiers = own.map(self.thresholds) ?? thresholds else { return nil }
        return RiskDomain(name: name, thresholds: tiers, cap: cap)
    }

    /// `plans: {TIER: [{kind, due, route, instruction}, …], DOMAIN: {TIER: […]}}`.
    func plans(_ mapping: YAMLMap, domains: [String]) -> ResponsePlans {
        var common: [Tier: [TaskTemplate]] = [:]
        var byDomain: [String: [Tier: [TaskTemplate]]] = [:]
        for entry in mapping.entries {
            if domains.contains(entry.name) {
                let problem = "the \(entry.name) plans must be a mapping of tier: list of tasks"
                if let tiers = mapping.map(entry.name, known: nil, problem) {
                    byDomain[entry.name] = tierPlans(tiers)
                }
            } else if Tier(rawValue: entry.name) != nil {
                common.merge(tierPlans(mapping, only: entry.name)) { first, _ in first }
            } else {
                let known = domains.isEmpty ? "" : "; or a domain: \(domains.joined(separator: ", "))"
                reader.report("unknown tier '\(entry.name)' (plans: moderate, high, imminent\(known))", at: entry.key)
            }
        }
        return ResponsePlans(common, domains: byDomain)
    }

    /// The plans of a mapping of tier: list of tasks (`only`: of that one key).
    func tierPlans(_ mapping: YAMLMap, only: String? = nil) -> [Tier: [TaskTemplate]] {
        var plans: [Tier: [TaskTemplate]] = [:]
        for entry in mapping.entries where only == nil || entry.name == only {
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
        return plans
    }

    static let templateKeys = ["kind", "due", "route", "instruction"]

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

    static let ruleKeys = [
        "id", "summary", "domain", "when", "absent", "weight", "half_life", "active_for", "floor", "acute", "repeat",
        "replaced_by", "evidence", "tags",
    ]

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
        let domain = fields.string("domain", "rule '\(name)': domain must name a domain of policy.yaml")
        var acute = Acuteness.no
        if let value = fields["acute"] {
            if let flag = value.bool {
                acute = flag ? .whileActive : .no
            } else if let span = value.string.flatMap({ TimeSpan(text: $0) }), span.microseconds > 0 {
                acute = .within(span)
            } else {
                reader.report(
                    "rule '\(name)': acute must be true, false or a duration such as 24h (how long a firing is acute)",
                    at: value)
            }
        }
        func span(_ key: String, _ problem: String) -> TimeSpan? {
            guard let value = fields[key] else { return nil }
            let span = value.string.flatMap { TimeSpan(text: $0) }.flatMap { $0.microseconds > 0 ? $0 : nil }
            if span == nil { reader.report("rule '\(name)': \(key) \(problem)", at: value) }
            return span
        }
        let activeFor = span("active_for", "must be a duration such as 30d (how long a firing counts)")
        var repeatWindow: TimeSpan?
        if let value = fields["repeat"] {
            let words = value.string?.split(separator: " ") ?? []
            repeatWindow = words.count == 2 && words[0] == "once_per" ? TimeSpan(text: String(words[1])) : nil
            if repeatWindow == nil || repeatWindow?.microseconds ?? 0 <= 0 {
                reader.report(
                    "rule '\(name)': repeat must be once_per and a duration, such as once_per 7d", at: value)
                repeatWindow = nil
            }
        }
        var replacedBy: SourceText?
        if let value = fields["replaced_by"] {
            replacedBy = expressionText(value)
            if replacedBy == nil {
                reader.report("rule '\(name)': replaced_by must be an expression string", at: value)
            }
        }
        if absence != nil {
            for key in ["repeat", "replaced_by"] where fields[key] != nil {
                reader.report(
                    "rule '\(name)': \(key) is for when: rules (an absence fires once per silence)", at: fields[key])
            }
        }
        guard let id, let condition else { return nil }
        return RuleDefinition(
            id: id, origin: origin(fields["id"] ?? node), summary: summary ?? "",
            condition: condition, absence: absence, weight: weight ?? 0,
            halfLife: halfLife ?? RuleDefinition.defaultHalfLife, floor: floor, evidence: evidence ?? "", tags: tags,
            domain: domain, acute: acute, activeFor: activeFor, repeatWindow: repeatWindow, replacedBy: replacedBy)
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
