/// A configuration or rules file that cannot be used: which file, which key (if any), and why.
///
/// `vigil` exits with 78 (EX_CONFIG) on it; the daemon keeps its old configuration on reload.
public struct ConfigError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let file: String
    public let key: String?
    public let line: Int?
    public let problem: String

    public init(file: String, key: String? = nil, line: Int? = nil, _ problem: String) {
        self.file = file
        self.key = key
        self.line = line
        self.problem = problem
    }

    public var exitStatus: ExitStatus { .config }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let key { return "\(location): key '\(key)': \(problem)" }
        return "\(location): \(problem)"
    }
}
