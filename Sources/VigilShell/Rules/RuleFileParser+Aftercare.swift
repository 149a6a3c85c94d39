import VigilCore
import Yams

/// policy.yaml's aftercare keys (see `Aftercare`): `caring_contacts:`, `follow_up:`, `watch:`,
/// `plan_review:` and `local_time:`. Each block is optional and needs `evidence:`.
extension RuleFileParser {
    static let aftercareKeys = ["caring_contacts", "follow_up", "watch", "plan_review", "local_time"]
    static let programKeys = ["schedule", "starts_at", "starts_on", "due", "route", "instruction", "evidence"]
    static let followUpKeys = ["max_attempts", "retry_after", "unreachable", "evidence"]
    static let watchKeys = ["period", "lower_thresholds_by", "evidence"]
    static let planReviewKeys = ["max_age", "task", "evidence"]

    /// The aftercare keys, and the watch's lowering of the thresholds (a scoring matter, kept with
    /// the scoring policy).
    func aftercare(_ root: YAMLMap) -> (aftercare: Aftercare, watchLowering: Double?) {
        var aftercare = Aftercare()
        var lowering: Double?
        if let fields = root.map("caring_contacts", known: Self.programKeys), evidenced(fields) {
            aftercare.program = program(fields)
        }
        if let fields = root.map("follow_up", known: Self.followUpKeys), evidenced(fields) {
            aftercare.followUp = followUp(fields)
        }
        if let fields = root.map("watch", known: Self.watchKeys), evidenced(fields),
            let (watch, lowerBy) = watch(fields)
        {
            aftercare.watch = watch
            lowering = lowerBy
        }
        if let fields = root.map("plan_review", known: Self.planReviewKeys), evidenced(fields) {
            aftercare.planReview = planReview(fields)
        }
        if let value = root["local_time"] {
            if let offset = value.string.flatMap(Self.utcOffset) {
                aftercare.utcOffset = offset
            } else {
                root.report("local_time", "local_time must be an offset from UTC such as +01:00 or -05:00")
            }
        }
        return (aftercare, lowering)
    }

    /// Whether the block says where it comes from (reported when not).
    func evidenced(_ fields: YAMLMap) -> Bool {
        guard fields.string("evidence", "evidence must say where this comes from") != nil else {
            if fields["evidence"] == nil { reader.report("\(fields.path) needs evidence:", at: fields.node) }
            return false
        }
        return true
    }

    /// A span such as `24h` or `30d` at `key` (required), reported when malformed.
    func span(_ fields: YAMLMap, _ key: String, _ what: String) -> TimeSpan? {
        guard let value = fields[key] else {
            fields.report(key, "\(fields.path) needs \(key): \(what)")
            return nil
        }
        guard let span = value.string.flatMap({ TimeSpan(text: $0) }), span.microseconds > 0 else {
            fields.report(key, "\(key) must be a duration such as 24h or 30d (\(what))")
            return nil
        }
        return span
    }

    func text(_ fields: YAMLMap, _ key: String) -> String? {
        guard let text = fields.string(key, "\(key) must be non-empty text").map(Self.withoutFinalNewlines) else {
            if fields[key] == nil { fields.report(key, "\(fields.path) needs \(key):") }
            return nil
        }
        guard !LogText.hasControlCharacters(text) else {
            fields.report(key, "\(key) has a control character: \(LogText.escaped(text))")
            return nil
        }
        return text
    }

    func program(_ fields: YAMLMap) -> CaringProgramPolicy? {
        var schedule: [TimeSpan] = []
        if let items = fields.strings(
            "schedule", "schedule must be a list of spans after the crisis, e.g. [1d, 7d, 30d]")
        {
            for item in items {
                guard let span = TimeSpan(text: item), span.microseconds > 0 else {
                    fields.report("schedule", "'\(item)' is not a span such as 7d or 30d")
                    continue
                }
                schedule.append(span)
            }
            if items.isEmpty { fields.report("schedule", "schedule must list at least one message") }
        } else if fields["schedule"] == nil {
            fields.report("schedule", "caring_contacts needs schedule: the messages' spans after the crisis")
        }
        var startTier = Tier.high
        if let value = fields["starts_at"] {
            if let tier = value.string.flatMap(Tier.init(rawValue:)), tier != .low {
                startTier = tier
            } else {
                fields.report("starts_at", "starts_at must be moderate, high or imminent")
            }
        }
        var kinds: Set<CheckIn.Kind> = []
        for name in fields.strings("starts_on", "starts_on must be a list of check-in kinds") ?? [] {
            guard let kind = CheckIn.Kind(rawValue: name) else {
                let known = CheckIn.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                fields.report("starts_on", "unknown check-in kind '\(name)' (known: \(known))")
                continue
            }
            kinds.insert(kind)
        }
        let due = span(fields, "due", "how long after its delivery a message is due")
        let route = text(fields, "route")
        let instruction = text(fields, "instruction")
        guard !schedule.isEmpty, let due, let route, let instruction else { return nil }
        return CaringProgramPolicy(
            schedule: schedule, startTier: startTier, startKinds: kinds, due: due, route: route,
            instruction: instruction)
    }

    func followUp(_ fields: YAMLMap) -> FollowUpPolicy? {
        var attempts: Int?
        if let value = fields["max_attempts"] {
            if let count = value.int, (1...10).contains(count) {
                attempts = count
            } else {
                fields.report("max_attempts", "max_attempts must be a whole number from 1 to 10")
            }
        } else {
            fields.report("max_attempts", "follow_up needs max_attempts: the missed attempts before unreachable")
        }
        let retry = span(fields, "retry_after", "when a missed follow-up is due again")
        let unreachable = requiredTemplate(fields, "unreachable", "the supervisors' task")
        guard let attempts, let retry, let unreachable else { return nil }
        return FollowUpPolicy(maxAttempts: attempts, retryAfter: retry, unreachable: unreachable)
    }

    func watch(_ fields: YAMLMap) -> (WatchPolicy, lowerBy: Double)? {
        let period = span(fields, "period", "how long the watch lasts after the episode closes")
        var lower: Double?
        if let value = fields["lower_thresholds_by"] {
            if let text = value.string, text.hasSuffix("%"), let percent = Double(text.dropLast()),
                percent > 0, percent < 100
            {
                lower = percent / 100
            } else {
                fields.report("lower_thresholds_by", "lower_thresholds_by must be a percentage such as 25%")
            }
        } else {
            fields.report("lower_thresholds_by", "watch needs lower_thresholds_by: a percentage such as 25%")
        }
        guard let period, let lower else { return nil }
        return (WatchPolicy(period: period), lower)
    }

    func planReview(_ fields: YAMLMap) -> PlanReviewPolicy? {
        let maxAge = span(fields, "max_age", "how old a plan may be before it is reviewed")
        let task = requiredTemplate(fields, "task", "the plan review's task")
        guard let maxAge, let task else { return nil }
        return PlanReviewPolicy(maxAge: maxAge, template: task)
    }

    /// The task template at `key` (required: `what` says what it is), its mistakes reported.
    func requiredTemplate(_ fields: YAMLMap, _ key: String, _ what: String) -> TaskTemplate? {
        guard let node = fields[key] else {
            fields.report(key, "\(fields.path) needs \(key): \(what)")
            return nil
        }
        do throws(SourceError) {
            return try template(node, path: fields.keyPath(key))
        } catch {
            reader.report(error)
            return nil
        }
    }

    /// `+01:00`, `-05:30`, `+00:00`: an offset from UTC.
    static func utcOffset(_ text: String) -> TimeSpan? {
        guard let sign = text.first, sign == "+" || sign == "-",
            let minutes = HourRange.minutes(text.dropFirst()), minutes <= 14 * 60
        else { return nil }
        return .minutes(Int64(sign == "-" ? -minutes : minutes))
    }
}
