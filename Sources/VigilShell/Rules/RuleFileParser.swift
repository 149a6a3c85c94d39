import VigilCore
import Yams

/// Reads one rules file (`rules:`, `conditions:`, `lists:`) or `policy.yaml` (`tiers:`) into the
/// core's definitions, keeping each expression's line and column for error messages.
struct RuleFileParser {
    let path: String
    let text: String
    let lines: [Substring]

    init(path: String, text: String) {
        self.path = path
        self.text = text
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    func error(_ node: Node?, _ message: String) -> SourceError {
        let line = node?.mark?.line ?? 1
        let column = node?.mark?.column ?? 1
        return SourceError(file: path, line: line, column: column, message, sourceLine: sourceLine(line))
    }

    func sourceLine(_ line: Int) -> String? { line >= 1 && line <= lines.count ? String(lines[line - 1]) : nil }

    func root(allowed: [String]) throws(SourceErrors) -> [(key: String, node: Node, value: Node)] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SourceErrors(errors: [SourceError(file: path, line: 1, column: 1, "not valid YAML: \(error)")])
        }
        guard let mapping = root?.mapping else {
            throw SourceErrors(errors: [
                error(root, "the top level must be a mapping with \(allowed.joined(separator: ", "))")
            ])
        }
        var result: [(key: String, node: Node, value: Node)] = []
        for (key, value) in mapping {
            guard let name = key.string, allowed.contains(name) else {
                throw SourceErrors(errors: [
                    error(key, "unknown key '\(key.string ?? "?")' (known: \(allowed.joined(separator: ", ")))")
                ])
            }
            result.append((name, key, value))
        }
        return result
    }

    // MARK: - policy.yaml

    /// `tiers:` (thresholds, required) and `plans:` (per tier, the task templates; optional).
    func policy() throws(SourceErrors) -> (thresholds: TierThresholds, plans: ResponsePlans) {
        var thresholds: [String: Double] = [:]
        var plans = ResponsePlans()
        for entry in try root(allowed: ["tiers", "plans"]) {
            if entry.key == "plans" {
                plans = try self.plans(entry.value)
                continue
            }
            guard let tiers = entry.value.mapping else {
                throw SourceErrors(errors: [error(entry.value, "tiers must be a mapping of tier: score")])
            }
            for (key, value) in tiers {
                guard let name = key.string, ["moderate", "high", "imminent"].contains(name) else {
                    throw SourceErrors(errors: [
                        error(
                            key,
                            "unknown tier '\(key.string ?? "?")' (thresholds: moderate, high, imminent; below moderate is low)"
                        )
                    ])
                }
                guard let score = value.float, (0...100).contains(score) else {
                    throw SourceErrors(errors: [error(value, "the \(name) threshold must be a score from 0 to 100")])
                }
                thresholds[name] = score
            }
        }
        guard let moderate = thresholds["moderate"], let high = thresholds["high"],
            let imminent = thresholds["imminent"]
        else {
            throw SourceErrors(errors: [
                SourceError(file: path, line: 1, column: 1, "tiers must set moderate, high and imminent")
            ])
        }
        guard moderate < high, high < imminent else {
            throw SourceErrors(errors: [
                SourceError(file: path, line: 1, column: 1, "thresholds must rise: moderate < high < imminent")
            ])
        }
        return (TierThresholds(moderate: moderate, high: high, imminent: imminent), plans)
    }

    static let templateKeys = ["kind", "due", "route", "instruction"]

    /// `plans: {TIER: [{kind, due, route, instruction}, …]}`; every mistake is reported.
    func plans(_ node: Node) throws(SourceErrors) -> ResponsePlans {
        guard let mapping = node.mapping else {
            throw SourceErrors(errors: [error(node, "plans must be a mapping of tier: list of tasks")])
        }
        var plans: [Tier: [TaskTemplate]] = [:]
        var errors: [SourceError] = []
        for (key, value) in mapping {
            guard let name = key.string, let tier = Tier(rawValue: name), tier != .low else {
                errors.append(error(key, "unknown tier '\(key.string ?? "?")' (plans: moderate, high, imminent)"))
                continue
            }
            guard let items = value.sequence else {
                errors.append(error(value, "the \(name) plan must be a list of tasks"))
                continue
            }
            var templates: [TaskTemplate] = []
            for item in items {
                do {
                    templates.append(try template(item))
                } catch {
                    errors += error.errors
                }
            }
            plans[tier] = templates
        }
        guard errors.isEmpty else { throw SourceErrors(errors: errors) }
        return ResponsePlans(plans)
    }

    func template(_ node: Node) throws(SourceErrors) -> TaskTemplate {
        guard let mapping = node.mapping else {
            throw SourceErrors(errors: [
                error(node, "a plan task must be a mapping (\(Self.templateKeys.joined(separator: ", ")))")
            ])
        }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string, Self.templateKeys.contains(name) else {
                throw SourceErrors(errors: [
                    error(
                        key, "unknown key '\(key.string ?? "?")' (known: \(Self.templateKeys.joined(separator: ", ")))")
                ])
            }
            fields[name] = value
        }
        func text(_ key: String) throws(SourceErrors) -> (String, Node) {
            guard let value = fields[key] else {
                throw SourceErrors(errors: [error(node, "a plan task needs '\(key)'")])
            }
            guard let string = value.string.map(Self.withoutFinalNewlines), !string.isEmpty else {
                throw SourceErrors(errors: [error(value, "'\(key)' must be non-empty text")])
            }
            return (string, value)
        }
        let (kindText, kindNode) = try text("kind")
        guard let kind = TaskKind(rawValue: kindText), kind != .overdue else {
            let known = TaskKind.allCases.filter { $0 != .overdue }.map(\.rawValue).joined(separator: ", ")
            throw SourceErrors(errors: [error(kindNode, "unknown task kind '\(kindText)' (known: \(known))")])
        }
        let (dueText, dueNode) = try text("due")
        guard let schedule = TaskSchedule.parse(dueText, duration: Self.duration) else {
            throw SourceErrors(errors: [
                error(
                    dueNode,
                    "'\(dueText)' is not a due time (now, within 4h, at 24h, daily for 7d; at most \(TaskSchedule.longestDaily) days)"
                )
            ])
        }
        let (route, routeNode) = try text("route")
        let (instruction, instructionNode) = try text("instruction")
        for (key, value, node) in [("route", route, routeNode), ("instruction", instruction, instructionNode)]
        where LogText.hasControlCharacters(value) {
            throw SourceErrors(errors: [
                error(node, "\(key) has a control character (a newline, an escape sequence): \(LogText.escaped(value))")
            ])
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
        var errors: [SourceError] = []
        for entry in try root(allowed: ["rules", "conditions", "lists"]) {
            switch entry.key {
            case "conditions":
                guard let mapping = entry.value.mapping else {
                    errors.append(error(entry.value, "conditions must map names to expressions"))
                    continue
                }
                for (key, value) in mapping {
                    guard let name = key.string, let expression = expressionText(value) else {
                        errors.append(error(value, "a condition is a name and an expression string"))
                        continue
                    }
                    source.conditions.append((name, expression))
                }
            case "lists":
                guard let mapping = entry.value.mapping else {
                    errors.append(error(entry.value, "lists must map names to lists of codes"))
                    continue
                }
                for (key, value) in mapping {
                    guard let name = key.string, let items = value.sequence?.compactMap(\.string),
                        items.count == value.sequence?.count
                    else {
                        errors.append(error(value, "a list is a name and a list of strings"))
                        continue
                    }
                    source.lists.append((name, items, origin(key)))
                }
            default:
                guard let sequence = entry.value.sequence else {
                    errors.append(error(entry.value, "rules must be a list"))
                    continue
                }
                for node in sequence {
                    do {
                        source.rules.append(try rule(node))
                    } catch {
                        errors.append(error)
                    }
                }
            }
        }
        if !errors.isEmpty { throw SourceErrors(errors: errors) }
    }

    static let ruleKeys = ["id", "summary", "when", "absent", "weight", "half_life", "floor", "evidence", "tags"]

    func rule(_ node: Node) throws(SourceError) -> RuleDefinition {
        guard let mapping = node.mapping else { throw error(node, "a rule must be a mapping") }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string, Self.ruleKeys.contains(name) else {
                throw error(
                    key, "unknown rule key '\(key.string ?? "?")' (known: \(Self.ruleKeys.joined(separator: ", ")))")
            }
            fields[name] = value
        }
        func required(_ key: String) throws(SourceError) -> Node {
            guard let value = fields[key] else { throw error(node, "rule is missing '\(key)'") }
            return value
        }
        guard let id = try required("id").string else { throw error(fields["id"], "id must be a string") }
        guard !LogText.hasControlCharacters(id) else {
            throw error(fields["id"], "rule '\(LogText.escaped(id))': id has a control character")
        }
        guard let summary = try required("summary").string.map(Self.withoutFinalNewlines), !summary.isEmpty else {
            throw error(fields["summary"], "rule '\(id)': summary must be a non-empty string")
        }
        // Rule text reaches logs, alerts and terminals (client show, queue show) as it is.
        guard !LogText.hasControlCharacters(summary) else {
            throw error(
                fields["summary"],
                "rule '\(id)': summary has a control character (a newline, an escape sequence): \(LogText.escaped(summary))"
            )
        }
        let condition: SourceText
        var absence: Absence?
        switch (fields["when"], fields["absent"]) {
        case (let when?, nil):
            guard let text = expressionText(when) else {
                throw error(when, "rule '\(id)': when must be an expression string")
            }
            condition = text
        case (nil, let absent?):
            (condition, absence) = try self.absence(absent, rule: id)
        case (_?, _?):
            throw error(fields["absent"], "rule '\(id)': give exactly one of when: or absent:, not both")
        case (nil, nil):
            throw error(node, "rule '\(id)' needs when: (tested on each event) or absent: (tested on a timer)")
        }
        guard let weight = try required("weight").float, (-100...100).contains(weight) else {
            throw error(fields["weight"], "rule '\(id)': weight must be a number from -100 to 100")
        }
        guard let evidence = try required("evidence").string, !evidence.isEmpty else {
            throw error(fields["evidence"], "rule '\(id)': evidence must say where the rule comes from")
        }
        var halfLife = RuleDefinition.defaultHalfLife
        if let value = fields["half_life"] {
            guard let text = value.string, let span = Self.duration(text), span.microseconds > 0 else {
                throw error(value, "rule '\(id)': half_life must be a duration such as 72h or 7d (at most 100 years)")
            }
            halfLife = span
        }
        var floor: Tier?
        if let value = fields["floor"] {
            guard let text = value.string, let tier = Tier(rawValue: text) else {
                throw error(value, "rule '\(id)': floor must be one of low, moderate, high, imminent")
            }
            floor = tier
        }
        let tags = fields["tags"]?.sequence?.compactMap(\.string) ?? []
        return RuleDefinition(
            id: id, origin: origin(fields["id"] ?? node), summary: summary, condition: condition, absence: absence,
            weight: weight, halfLife: halfLife, floor: floor, evidence: evidence, tags: tags)
    }

    static let absenceKeys = ["match", "for", "tier_at_least"]

    /// `absent: {match: EXPR, for: DURATION, tier_at_least: TIER}`.
    func absence(_ node: Node, rule id: String) throws(SourceError) -> (SourceText, Absence) {
        guard let mapping = node.mapping else {
            throw error(node, "rule '\(id)': absent: must be a mapping with match:, for: and optionally tier_at_least:")
        }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string, Self.absenceKeys.contains(name) else {
                throw error(
                    key,
                    "rule '\(id)': unknown absent: key '\(key.string ?? "?")' (known: \(Self.absenceKeys.joined(separator: ", ")))"
                )
            }
            fields[name] = value
        }
        guard let match = fields["match"], let condition = expressionText(match) else {
            throw error(fields["match"] ?? node, "rule '\(id)': absent: needs match:, the events that count as contact")
        }
        guard let text = fields["for"]?.string, let duration = Self.duration(text), duration.microseconds > 0 else {
            throw error(
                fields["for"] ?? node, "rule '\(id)': absent: needs for:, a duration such as 48h (at most 100 years)")
        }
        var tier = Tier.low
        if let value = fields["tier_at_least"] {
            guard let text = value.string, let parsed = Tier(rawValue: text) else {
                throw error(value, "rule '\(id)': tier_at_least must be one of low, moderate, high, imminent")
            }
            tier = parsed
        }
        return (condition, Absence(duration: duration, tierAtLeast: tier))
    }

    func origin(_ node: Node) -> ExpressionOrigin {
        let line = node.mark?.line ?? 1
        return ExpressionOrigin(file: path, line: line, column: node.mark?.column ?? 1, sourceLine: sourceLine(line))
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
                    file: path, line: mark.line, column: mark.column + 1, sourceLine: sourceLine(mark.line)))
        case .literal, .folded:
            let line = mark.line + 1
            let indent = sourceLine(line).map { $0.prefix { $0 == " " }.count } ?? 0
            return SourceText(
                scalar.string,
                origin: ExpressionOrigin(file: path, line: line, column: indent + 1, sourceLine: sourceLine(line)))
        default:
            return SourceText(scalar.string, origin: origin(node))
        }
    }

    /// `30m`, `24h`, `7d`, `90s`; nil when malformed, negative or longer than 100 years.
    static func duration(_ text: String) -> TimeSpan? {
        guard let unit = text.last, let value = Double(text.dropLast()) else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        default: return nil
        }
        return TimeSpan(checkedSeconds: value * seconds)
    }
}
