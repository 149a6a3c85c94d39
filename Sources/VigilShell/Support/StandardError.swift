import Glibc

/// Prints `vigil: MESSAGE` on stderr.
public func printError(_ message: String) {
    var standardError = StandardError()
    print("vigil: \(message)", to: &standardError)
}

/// stderr as a `TextOutputStream`.
public struct StandardError: TextOutputStream {
    public init() {}

    public mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
