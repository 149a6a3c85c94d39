import Glibc

/// A failed system call: what was attempted, on which path, and `errno`.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, path: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }

    /// The disk is full or the file system refuses writes; waiting may help.
    public var isResourceExhaustion: Bool { errno == ENOSPC || errno == EDQUOT || errno == EROFS || errno == EIO }
}
