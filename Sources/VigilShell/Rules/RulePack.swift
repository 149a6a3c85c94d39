import Foundation
import VigilCore

/// A rules directory loaded and compiled: the vocabulary, the rule set, the scoring policy, and the
/// hash of every file that produced them (recorded with each evaluation, for audit).
public struct RulePack: Sendable {
    public let vocabulary: Vocabulary
    public let ruleSet: RuleSet
    /// The domains, thresholds, acute requirement and hold of policy.yaml.
    public let policy: ScoringPolicy
    /// What each tier's rise calls for (`plans:` in policy.yaml).
    public let plans: ResponsePlans
    /// Hex SHA-256 over the names and bytes of every file read, in name order.
    public let hash: String
    /// The rule files read (besides vocabulary.yaml and policy.yaml).
    public let files: [String]

    public static let policyFile = "policy.yaml"

    /// Loads `vocabulary.yaml`, `policy.yaml` and every other `*.yaml` at the top of `directory`.
    /// Throws every error found, each as `FILE:LINE:COL: message`, in file order.
    public static func load(directory: String) throws(RulePackError) -> RulePack {
        // Errors at a place in a file, found file by file and then by the compiler: sorted at the end.
        var located: [SourceError] = []
        var messages: [String] = []
        var vocabulary: Vocabulary?
        do {
            vocabulary = try VocabularyFile.load(rulesDirectory: directory)
        } catch {
            located += error.errors
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
                .sorted()
        } catch {
            throw RulePackError(
                messages: located.map(\.description) + [
                    "\(directory): cannot list the rules directory: \(error.localizedDescription)"
                ])
        }
        var hashInput: [UInt8] = []
        var source = RuleSource()
        var policy: ScoringPolicy?
        var plans = ResponsePlans()
        var ruleFiles: [String] = []
        for name in names {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else {
                messages.append("\(path): cannot be read as UTF-8 text")
                continue
            }
            hashInput += Array(name.utf8) + [0] + Array(data) + [0]
            do {
                switch name {
                case VocabularyFile.name: break
                case policyFile:
                    (policy, plans) = try RuleFileParser(path: path, text: text).policy()
                    messages += plans.repeatedKeys.map { domain, tier, key in
                        let plan = (domain.map { "\($0)." } ?? "") + tier.rawValue
                        let route = key.route.map { " by \($0)" } ?? ""
                        return
                            "\(path): plans.\(plan): two lines ask for the same job (\(key.kind.rawValue)\(route) due \(key.offset.compact) after the rise); a client holds one task per job, so merge them"
                    }
                default:
                    try RuleFileParser(path: path, text: text).rules(into: &source)
                    ruleFiles.append(name)
                }
            } catch {
                located += error.errors
            }
        }
        if policy == nil, !names.contains(policyFile) {
            messages.append("\(directory)/\(policyFile): missing (it holds the tier thresholds)")
        }
        // Without a vocabulary the rules' codes and measures cannot be checked: only their structure is.
        var ruleSet: RuleSet?
        if let vocabulary {
            do {
                let declared = policy.map { $0.names == [ScoringPolicy.implicitDomain] ? [] : $0.names } ?? []
                ruleSet = try RuleSet.compile(source, vocabulary: vocabulary, domains: declared)
            } catch {
                located += error.errors
            }
        }
        guard located.isEmpty, messages.isEmpty, let vocabulary, let ruleSet, let policy else {
            let order = located.sorted {
                ($0.file, $0.line ?? 0, $0.column ?? 0) < ($1.file, $1.line ?? 0, $1.column ?? 0)
            }
            throw RulePackError(messages: order.map(\.description) + messages)
        }
        return RulePack(
            vocabulary: vocabulary, ruleSet: ruleSet, policy: policy, plans: plans, hash: sha256Hex(hashInput),
            files: ruleFiles)
    }
}

/// Everything wrong with a rules directory, one message per mistake.
extension RulePack {
    /// `vigil rules check --strict`: throws, located in vocabulary.yaml, every code that no rule
    /// reads and `unscored:` does not explain (and every code `unscored:` lists that a rule reads).
    public func checkEveryCodeIsExplained(directory: String) throws(RulePackError) {
        let unexplained: [SourceError]
        do {
            unexplained = try VocabularyFile.unexplainedCodes(rulesDirectory: directory, read: ruleSet.codesRead)
        } catch {
            throw RulePackError(messages: error.errors.map(\.description))
        }
        if !unexplained.isEmpty { throw RulePackError(messages: unexplained.map(\.description)) }
    }
}

public struct RulePackError: Error, ExitStatusProviding, CustomStringConvertible {
    public let messages: [String]
    public var exitStatus: ExitStatus { .config }
    public var description: String { messages.joined(separator: "\n") }
}
