import Foundation
import VigilCore
import Yams

/// `vigil rules test`: YAML files of event sequences and expectations, run through the real decoder
/// and the real rule engine (`ClientReplay`), reported like `promtool test rules`: every failing
/// expectation with what it got and what it wanted.
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

    /// Runs every test of the file at `path` against `pack`, adding to `report`. Throws when the file
    /// itself is malformed (as `FILE:LINE:COL: message`).
    public static func run(path: String, pack: RulePack, into report: inout Report) throws(SourceErrors) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SourceErrors(errors: [SourceError(file: path, line: 1, column: 1, "cannot be read")])
        }
        let parser = RuleFileParser(path: path, text: text)
        let decoder = CheckInDecoder(vocabulary: pack.vocabulary)
        let known = Set(pack.ruleSet.rules.map(\.id))
        for entry in try parser.root(allowed: ["tests"]) {
            guard let tests = entry.value.sequence else {
                throw SourceErrors(errors: [parser.error(entry.value, "tests must be a list")])
            }
            for test in tests {
                report.tests += 1
                try runTest(test, parser: parser, decoder: decoder, pack: pack, known: known, report: &report)
            }
        }
    }

    static func runTest(
        _ node: Node, parser: RuleFileParser, decoder: CheckInDecoder, pack: RulePack, known: Set<String>,
        report: inout Report
    ) throws(SourceErrors) {
        func fail(_ node: Node?, _ message: String) -> SourceErrors {
            SourceErrors(errors: [parser.error(node, message)])
        }
        guard let fields = node.mapping, let name = fields["name"]?.string else {
            throw fail(node, "a test is a mapping with name, events and expect")
        }
        for key in fields.keys where !["name", "client", "events", "expect"].contains(key.string ?? "") {
            throw fail(key, "unknown test key '\(key.string ?? "?")' (known: name, client, events, expect)")
        }
        let client = fields["client"]?.string ?? "test-client"
        var replay = ClientReplay(ruleSet: pack.ruleSet, thresholds: pack.thresholds)
        for (index, eventNode) in (fields["events"]?.sequence ?? []).enumerated() {
            guard var members = eventNode.mapping, let atNode = members["at"], let at = offset(atNode) else {
                throw fail(eventNode, "test '\(name)': each event needs at: +OFFSET (e.g. +26h)")
            }
            members["at"] = nil
            var object = members.map { (key: $0.key.string ?? "", value: $0.value) }
            object.append((key: "at", value: Node(RFC3339.format(at))))
            if members["client"] == nil { object.append((key: "client", value: Node(client))) }
            if members["id"] == nil { object.append((key: "id", value: Node("\(slug(name))-\(index + 1)"))) }
            let json =
                "{" + object.map { "\(JSONText.quote($0.key)):\(jsonText($0.value))" }.joined(separator: ",") + "}"
            do {
                replay.ingest(try decoder.decode(Array(json.utf8), now: at).checkIn)
            } catch {
                throw fail(eventNode, "test '\(name)': event \(index + 1) is not a valid check-in: \(error)")
            }
        }
        for expectation in fields["expect"]?.sequence ?? [] {
            report.expectations += 1
            guard let checks = expectation.mapping, let atNode = checks["at"], let at = offset(atNode) else {
                throw fail(expectation, "test '\(name)': each expectation needs at: +OFFSET")
            }
            let label = "\(parser.path): test \"\(name)\": at \(atNode.string ?? "")"
            // A checkpoint is also a tick of the daemon's absence timer.
            _ = replay.decideAbsences(dueBy: at)
            let active = Set(replay.activeFirings(at: at).map(\.rule))
            let score = replay.score(at: at)
            for (key, value) in checks {
                switch key.string ?? "" {
                case "at": break
                case "fired", "not_fired":
                    let wantFired = key.string == "fired"
                    for rule in value.sequence?.compactMap(\.string) ?? [] {
                        guard known.contains(rule) else {
                            throw fail(value, "test '\(name)': no rule '\(rule)' in the pack")
                        }
                        if wantFired { report.covered.insert(rule) }
                        if active.contains(rule) != wantFired {
                            report.failures.append(
                                "\(label): \(rule): got \(wantFired ? "not fired" : "fired"), want \(wantFired ? "fired" : "not fired") "
                                    + "(active: \(active.sorted().joined(separator: ", ")))")
                        }
                    }
                case "tier":
                    guard let want = value.string.flatMap(Tier.init(rawValue:)) else {
                        throw fail(value, "tier must be low, moderate, high or imminent")
                    }
                    if score.tier != want {
                        report.failures.append("\(label): tier: got \(score.tier.rawValue), want \(want.rawValue)")
                    }
                case "score":
                    guard let bounds = value.sequence?.compactMap(\.float), bounds.count == 2 else {
                        throw fail(value, "score must be [MIN, MAX]")
                    }
                    if !(bounds[0]...bounds[1]).contains(score.score) {
                        report.failures.append("\(label): score: got \(score.score), want \(bounds[0])..\(bounds[1])")
                    }
                default:
                    throw fail(
                        key, "unknown expectation '\(key.string ?? "?")' (known: at, fired, not_fired, score, tier)")
                }
            }
        }
    }

    /// `+26h` → epoch + 26 hours.
    static func offset(_ node: Node) -> Timestamp? {
        guard let text = node.string, text.hasPrefix("+"), let span = RuleFileParser.duration(String(text.dropFirst()))
        else { return nil }
        return epoch.adding(span)
    }

    static func slug(_ name: String) -> String {
        String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(64))
    }

    /// A YAML node as JSON text: plain `true`/`false` and numbers keep their type, other scalars are strings.
    static func jsonText(_ node: Node) -> String {
        switch node {
        case .mapping(let mapping):
            return "{"
                + mapping.map { "\(JSONText.quote($0.key.string ?? "")):\(jsonText($0.value))" }.joined(separator: ",")
                + "}"
        case .sequence(let sequence):
            return "[" + sequence.map(jsonText).joined(separator: ",") + "]"
        case .scalar(let scalar):
            if scalar.style == .plain {
                if scalar.string == "true" || scalar.string == "false" { return scalar.string }
                if let number = Double(scalar.string), number.isFinite { return scalar.string }
            }
            return JSONText.quote(scalar.string)
        case .alias:
            return "null"
        }
    }
}
