import VigilCore

/// Process exit codes from sysexits(3), the contract of every `vigil` command.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// Bad input data (a check-in that fails validation).
    case dataError = 65
    /// A needed input file does not exist or cannot be read.
    case noInput = 66
    /// A service (the store) is not available.
    case unavailable = 69
    /// An internal software error.
    case software = 70
    /// An I/O error on a file the command writes.
    case ioError = 74
    /// Permission refused (a directory with unsafe ownership or mode).
    case noPermission = 77
    /// Bad configuration; the message names the key.
    case config = 78
}

/// An error that knows which exit code it deserves.
public protocol ExitStatusProviding: Error {
    var exitStatus: ExitStatus { get }
}

/// A configuration, rules or test file that cannot be used: `vigil` exits 78 (EX_CONFIG); the
/// daemon keeps its old configuration on reload.
extension SourceErrors: ExitStatusProviding {
    public var exitStatus: ExitStatus { .config }
}
