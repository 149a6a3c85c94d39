import Foundation
import VigilCore

/// A rules directory loaded and compiled: the vocabulary, the rule set, the tier thresholds, and the
/// hash of every file that produced them (recorded with each evaluation, for audit).
public struct RulePack: Sendable {
    public let vocabulary: Vocabulary
    public let ruleSet: RuleSet
    public let thresholds: TierThresholds
    /// What each tier's rise calls for (`plans:` in policy.yaml).
    public let plans: ResponsePlans
    /// Hex SHA-256 over the names and bytes of every file read, in name order.
    public let hash: String
    /// The rule files read (besides vocabulary.yaml and policy.yaml).
    public let files: [String]

    public static let policyFile = "policy.yaml"

    /// Loads `vocabulary.yaml`, `policy.yaml` and every other `*.yaml` at the top of `directory`.
    /// Throws every error found, each as `FILE:LINE:COL: message`.
    public static func load(directory: String) throws(RulePackError) -> RulePack {
        let vocabulary: Vocabulary
        do {
            vocabulary = try VocabularyFile.load(rulesDirectory: directory)
        } catch {
            throw RulePackError(messages: error.errors.map(\.description))
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
                .sorted()
        } catch {
            throw RulePackError(messages: [
                "\(directory): cannot list the rules directory: \(error.localizedDescription)"
            ])
        }
        var hashInput: [UInt8] = []
        var source = RuleSource()
        var thresholds: TierThresholds?
        var plans = ResponsePlans()
        var messages: [String] = []
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
                    let policy = try RuleFileParser(path: path, text: text).policy()
                    thresholds = policy.thresholds
                    plans = policy.plans
                    messages += plans.repeatedKeys.map { tier, key in
                        "\(path): plans.\(tier.rawValue): two lines ask for the same job (\(key.kind.rawValue) delivered \(key.offset.compact) after the rise); a client holds one task per job, so merge them"
                    }
                default:
                    try RuleFileParser(path: path, text: text).rules(into: &source)
                    ruleFiles.append(name)
                }
            } catch {
                messages += error.errors.map(\.description)
            }
        }
        if thresholds == nil, !names.contains(policyFile) {
            messages.append("\(directory)/\(policyFile): missing (it holds the tier thresholds)")
        }
        var ruleSet: RuleSet?
        do {
            ruleSet = try RuleSet.compile(source, vocabulary: vocabulary)
        } catch {
            messages += error.errors.map(\.description)
        }
        guard messages.isEmpty, let ruleSet, let thresholds else { throw RulePackError(messages: messages) }
        return RulePack(
            vocabulary: vocabulary, ruleSet: ruleSet, thresholds: thresholds, plans: plans, hash: sha256Hex(hashInput),
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
