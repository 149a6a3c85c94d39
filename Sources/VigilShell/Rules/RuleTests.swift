import Foundation
import VigilCore
import Yams

/// `vigil rules test`: YAML files of event sequences and expectations, run through the real decoder
/// and the daemon's decision core (`Evaluator`, via `Timeline`), reported like `promtool test rules`:
/// every failing expectation with what it got and what it wanted. Consecutive events with the same
/// `at` arrive as one batch; a checkpoint is also a tick of the daemon's absence timer.
///
/// ```yaml
/// tests:
///   - name: two stressors in a week
///     events:                      # in arrival order; `at` is an offset from 2026-01-01T00:00:00Z
///       - {at: +0h, kind: checkin, source: peer, stressors: [job_loss]}
///       - {at: +26h, kind: checkin, source: peer, stressors: [conflict_at_home]}
///     expect:
///       - at: +26h
///         fired: [stressor-cascade]  # active at that time
///         not_fired: [overdose]
///         score: [15, 40]            # inclusive
///         tier: moderate
///         domains: {return_to_use: moderate, suicide: low}   # each domain's tier
///         tasks:                     # exactly what the check-ins at +26h enqueued
///           - {kind: caring_contact, route: outreach, due: 24h}
///         superseded: []             # and the open tasks they cancelled (kind, route, tier)
///         ended:                     # and the open tasks that ended otherwise, with why
///           - {kind: follow_up, route: counselor, why: unreachable after 3 attempts}
/// ```
public enum RuleTests {
    /// The instant test offsets count from.
    public static let epoch = Timestamp(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// What running one or more files found.
    public struct Report: Sendable {
        public var tests = 0
        public var expectations = 0
        public var failures: [String] = []
        /// Rules some expectation wants fired.
        public var covered: Set<String> = []

        public init() {}
    }

    /// One test of a file: a client's events and the expectations checked after them.
    struct Case {
        var name: String
        var client: String
        var events: [CheckIn]
        var expectations: [Expectation]

        /// The events in arrival order, consecutive ones with the same `at` as one batch.
        var batches: [[CheckIn]] {
            var batches: [[CheckIn]] = []
            for event in events {
                if let last = batches.last?.last, last.at == event.at {
                    batches[batches.count - 1].append(event)
                } else {
                    batches.append([event])
                }
            }
            return batches
        }
    }

    /// What must hold at a checkpoint (each field optional; nil or empty checks nothing).
    struct Expectation {
        static let keys = [
            "at", "fired", "not_fired", "score", "tier", "domains", "tasks", "no_tasks", "superseded", "ended",
        ]

        /// The checkpoint as written (`+26h`) and as an instant.
        var label: String
        var at: Timestamp
        var fired: [String] = []
        var notFired: [String] = []
        var score: ClosedRange<Double>?
        var tier: Tier?
        /// The tier of each domain named.
        var domains: [String: Tier] = [:]
        /// Exactly the tasks the check-ins (and tick) at this time enqueued, as `kind route due`
        /// lines; `no_tasks: true` is the empty list.
        var tasks: [String]?
        /// Exactly the open tasks they superseded, as `kind route tier` lines.
        var superseded: [String]?
        /// Exactly the open tasks that ended otherwise, as `kind route why` lines (`why`: `resolved`,
        /// or the cancellation's reason without the event in parentheses).
        var ended: [String]?
    }

    static let testKeys = ["name", "client", "events", "expect"]
    static let taskKeys = ["kind", "route", "due"]
    static let supersededKeys = ["kind", "route", "tier"]
    static let endedKeys = ["kind", "route", "why"]

    /// The test files `argument` names: itself, or a directory's `.yaml` files in name order (a
    /// directory with none, or that cannot be listed, is itself: `run` reports it).
    public static func files(in argument: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue,
            let names = try? FileManager.default.contentsOfDirectory(atPath: argument)
        else { return [argument] }
        let tests = names.filter { $0.hasSuffix(".yaml") }.sorted()
        let directory = argument.hasSuffix("/") ? String(argument.dropLast()) : argument
        return tests.isEmpty ? [argument] : tests.map { directory + "/" + $0 }
    }

    /// Runs every test of the file at `path` against `pack`, adding to `report`. Throws every mistake
    /// of the file itself (as `FILE:LINE:COL: message`); then no test of it runs.
    public static func run(path: String, pack: RulePack, into report: inout Report) throws(SourceErrors) {
        let text: String
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SourceErrors(errors: [
                SourceError(file: path, "no such file (or a directory on its path cannot be searched)")
            ])
        }
        guard !isDirectory.boolValue else {
            throw SourceErrors(
                errors: [SourceError(file: path, "a directory without .yaml test files, or one that cannot be listed")])
        }
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SourceErrors(
                errors: [SourceError(file: path, "cannot be read as UTF-8 text (permissions, or not text)")])
        }
        let cases = try parse(text, path: path, pack: pack)
        for test in cases {
            report.tests += 1
            var timeline = Timeline(evaluator: pack.evaluator, client: test.client)
            let observations = timeline.run(batches: test.batches, checkpoints: test.expectations.map(\.at))
            for (expectation, observation) in zip(test.expectations, observations) {
                report.expectations += 1
                check(
                    expectation, against: observation,
                    label: "\(path): test \"\(test.name)\": at \(expectation.label)", into: &report)
            }
        }
    }

    /// Reads a test file: its events through the real check-in decoder, every mistake reported.
    static func parse(_ text: String, path: String, pack: RulePack) throws(SourceErrors) -> [Case] {
        let reader = YAMLReader(path: path, text: text)
        let decoder = CheckInDecoder(vocabulary: pack.vocabulary)
        let known = Set(pack.ruleSet.rules.map(\.id))
        var cases: [Case] = []
        for item in reader.root(known: ["tests"])?.list("tests", "tests must be a list") ?? [] {
            let problem = "a test is a mapping with \(testKeys.joined(separator: ", "))"
            guard let fields = reader.map(item.node, path: item.path, known: testKeys, what: problem) else { continue }
            guard let name = fields.string("name", "a test needs a name") else {
                if fields["name"] == nil { reader.report(problem, at: item.node, key: item.path) }
                continue
            }
            let client = fields.string("client") ?? "test-client"
            var test = Case(name: name, client: client, events: [], expectations: [])
            for (index, event) in (fields.list("events") ?? []).enumerated() {
                guard var members = event.node.mapping, let at = members["at"].flatMap(offset) else {
                    reader.report(
                        "test '\(name)': each event needs at: +OFFSET (e.g. +26h)", at: event.node, key: event.path)
                    continue
                }
                members["at"] = nil
                var object = members.map { (key: $0.key.string ?? "", value: jsonValue($0.value)) }
                object.append((key: "at", value: .string(RFC3339.format(at))))
                if members["client"] == nil { object.append((key: "client", value: .string(client))) }
                let defaultID = "\(slug(name))-\(index + 1)"
                do {
                    test.events.append(try decoder.decode(.object(object), defaultID: defaultID, now: at))
                } catch {
                    reader.report(
                        "test '\(name)': event \(index + 1) is not a valid check-in: \(error)", at: event.node,
                        key: event.path)
                }
            }
            for checkpoint in fields.list("expect") ?? [] {
                if let expectation = self.expectation(
                    checkpoint, test: name, known: known, domains: pack.policy.names, reader: reader)
                {
                    test.expectations.append(expectation)
                }
            }
            cases.append(test)
        }
        try reader.finish()
        return cases
    }

    /// One checkpoint of `expect:`; nil (reported) when malformed.
    static func expectation(
        _ item: (path: String, node: Node), test name: String, known: Set<String>, domains: [String],
        reader: YAMLReader
    ) -> Expectation? {
        guard let fields = reader.map(item.node, path: item.path, known: Expectation.keys),
            let atNode = fields["at"], let at = offset(atNode)
        else {
            reader.report("test '\(name)': each expectation needs at: +OFFSET", at: item.node, key: item.path)
            return nil
        }
        var expectation = Expectation(label: atNode.string ?? "", at: at)
        func rules(_ key: String) -> [String] {
            let ids = fields.strings(key) ?? []
            for id in ids where !known.contains(id) {
                fields.report(key, "test '\(name)': no rule '\(id)' in the pack")
            }
            return ids
        }
        expectation.fired = rules("fired")
        expectation.notFired = rules("not_fired")
        if let tier = fields.string("tier", "tier must be low, moderate, high or imminent") {
            expectation.tier = Tier(rawValue: tier)
            if expectation.tier == nil { fields.report("tier", "tier must be low, moderate, high or imminent") }
        }
        let tierProblem = "a domain's tier must be low, moderate, high or imminent"
        for entry in fields.map("domains", known: domains, "domains must map domain: tier")?.entries ?? [] {
            if let tier = entry.value.string.flatMap(Tier.init(rawValue:)) {
                expectation.domains[entry.name] = tier
            } else {
                reader.report(tierProblem, at: entry.value, key: "domains.\(entry.name)")
            }
        }
        if let value = fields["score"] {
            if let bounds = value.sequence?.compactMap(\.float), bounds.count == 2, bounds[0] <= bounds[1] {
                expectation.score = bounds[0]...bounds[1]
            } else {
                fields.report("score", "score must be [MIN, MAX]")
            }
        }
        expectation.tasks = taskLines(fields, "tasks", known: taskKeys, reader: reader) { task in
            let problem = "must be now or a span such as 24h"
            guard let due = task.string("due", problem) else { return nil }
            guard let span = due == "now" ? TimeSpan.seconds(0) : TimeSpan(text: due) else {
                task.report("due", problem)
                return nil
            }
            return hours(span)
        }
        if let value = fields["no_tasks"] {
            if value.bool == true {
                if expectation.tasks?.isEmpty == false { fields.report("no_tasks", "contradicts tasks:") }
                expectation.tasks = []
            } else {
                fields.report("no_tasks", "must be true (leave it out to check nothing)")
            }
        }
        expectation.superseded = taskLines(fields, "superseded", known: supersededKeys, reader: reader) { task in
            let problem = "must be low, moderate, high or imminent"
            guard let tier = task.string("tier", problem) else { return nil }
            guard Tier(rawValue: tier) != nil else {
                task.report("tier", problem)
                return nil
            }
            return tier
        }
        expectation.ended = taskLines(fields, "ended", known: endedKeys, reader: reader) { task in
            task.string("why", "must say why: resolved, or the reason it was cancelled")
        }
        return expectation
    }

    /// Why a task ended, as `ended:` expectations write it.
    static func why(_ end: TaskEnd) -> String {
        switch end {
        case .resolved: return "resolved"
        case .cancelled(let reason):
            guard let cut = reason.range(of: " (", options: .backwards), reason.hasSuffix(")") else { return reason }
            return String(reason[..<cut.lowerBound])
        }
    }

    /// The list under `key`, each task as a `kind route LAST` line (`last` reads the third field);
    /// nil when there is no such key. A malformed task is reported and left out.
    static func taskLines(
        _ fields: YAMLMap, _ key: String, known: [String], reader: YAMLReader, last: (YAMLMap) -> String?
    ) -> [String]? {
        fields.list(key)?.compactMap { item in
            guard let task = reader.map(item.node, path: item.path, known: known), let kind = kind(task),
                let route = task.string("route"), let third = last(task)
            else { return nil }
            return "\(kind.rawValue) \(route) \(third)"
        }
    }

    /// A task expectation's `kind`, reported when missing or unknown.
    static func kind(_ task: YAMLMap) -> TaskKind? {
        let problem = "must be one of \(TaskKind.allCases.map(\.rawValue).joined(separator: ", "))"
        guard let name = task.string("kind", problem) else { return nil }
        guard let kind = TaskKind(rawValue: name) else {
            task.report("kind", problem)
            return nil
        }
        return kind
    }

    /// A due offset as tests write it: `now`, else whole hours (`24h`), else seconds.
    static func hours(_ span: TimeSpan) -> String {
        if span.microseconds == 0 { return "now" }
        return span.microseconds % 3_600_000_000 == 0 ? "\(span.microseconds / 3_600_000_000)h" : span.compact
    }

    /// Checks `expectation` against what the timeline observed at its time, adding each failure to
    /// `report`.
    static func check(
        _ expectation: Expectation, against observation: Timeline.Observation, label: String,
        into report: inout Report
    ) {
        let active = observation.active
        let score = observation.score
        for (rules, wantFired) in [(expectation.fired, true), (expectation.notFired, false)] {
            for rule in rules {
                if wantFired { report.covered.insert(rule) }
                if active.contains(rule) != wantFired {
                    report.failures.append(
                        "\(label): \(rule): got \(wantFired ? "not fired" : "fired"), want \(wantFired ? "fired" : "not fired") "
                            + "(active: \(active.sorted().joined(separator: ", ")))")
                }
            }
        }
        if let want = expectation.tier, score.tier != want {
            report.failures.append("\(label): tier: got \(score.tier.rawValue), want \(want.rawValue)")
        }
        for (domain, want) in expectation.domains.sorted(by: { $0.key < $1.key }) {
            let got = score.domain(domain)?.tier ?? .low
            if got != want {
                report.failures.append("\(label): domains.\(domain): got \(got.rawValue), want \(want.rawValue)")
            }
        }
        if let bounds = expectation.score, !bounds.contains(score.score) {
            report.failures.append(
                "\(label): score: got \(score.score), want \(bounds.lowerBound)..\(bounds.upperBound)")
        }
        let planned = observation.planned.map {
            "\($0.kind.rawValue) \($0.route) \(hours(TimeSpan(microseconds: $0.due.microseconds - observation.at.microseconds)))"
        }
        let superseded = observation.superseded.map {
            "\($0.task.kind.rawValue) \($0.task.route) \($0.task.tier.rawValue)"
        }
        let ended = observation.ended.map { "\($0.task.kind.rawValue) \($0.task.route) \(why($0.end))" }
        for (name, want, got) in [
            ("tasks", expectation.tasks, planned), ("superseded", expectation.superseded, superseded),
            ("ended", expectation.ended, ended),
        ] {
            guard let want, want.sorted() != got.sorted() else { continue }
            report.failures.append(
                "\(label): \(name): got [\(got.joined(separator: "; "))], want [\(want.joined(separator: "; "))]")
        }
    }

    /// `+26h` → epoch + 26 hours.
    static func offset(_ node: Node) -> Timestamp? {
        guard let text = node.string, text.hasPrefix("+"), let span = TimeSpan(text: String(text.dropFirst()))
        else { return nil }
        return epoch.adding(span)
    }

    static func slug(_ name: String) -> String {
        String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(64))
    }

    /// A YAML node as the JSON value a check-in file would hold: plain `true`/`false` and numbers keep
    /// their type, other scalars are strings.
    static func jsonValue(_ node: Node) -> JSONValue {
        switch node {
        case .mapping(let mapping):
            return .object(mapping.map { (key: $0.key.string ?? "", value: jsonValue($0.value)) })
        case .sequence(let sequence):
            return .array(sequence.map(jsonValue))
        case .scalar(let scalar):
            if scalar.style == .plain {
                if scalar.string == "true" || scalar.string == "false" { return .bool(scalar.string == "true") }
                if let number = Double(scalar.string), number.isFinite { return .number(number) }
            }
            return .string(scalar.string)
        case .alias:
            return .null
        }
    }
}
