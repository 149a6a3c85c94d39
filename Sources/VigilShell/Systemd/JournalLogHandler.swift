import CSystemd
import Glibc
import Logging

/// A swift-log handler that writes native journal entries through `sd_journal_sendv`:
/// MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, MESSAGE_ID, CODE_* and every metadata key as `VIGIL_KEY`.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let identifier: String

    public init(identifier: String = "vigil") { self.identifier = identifier }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var fields = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            if key == MessageID.metadataKey {
                fields.append("MESSAGE_ID=\(value)")
            } else {
                fields.append("VIGIL_\(Self.fieldName(key))=\(value)")
            }
        }
        Self.send(fields)
    }

    /// syslog priorities: swift-log's `critical` is LOG_CRIT, `error` LOG_ERR, and so on.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Journal field names are `[A-Z0-9_]`: upper-case the key, replace anything else by `_`.
    static func fieldName(_ key: String) -> String {
        String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                let ok = ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
                return ok ? Character(scalar) : "_"
            })
    }

    static func send(_ fields: [String]) {
        let copies = fields.map { strdup($0) }
        defer {
            for copy in copies { free(copy) }
        }
        var vectors = copies.map { pointer in
            iovec(iov_base: UnsafeMutableRawPointer(pointer), iov_len: pointer.map { strlen($0) } ?? 0)
        }
        _ = vectors.withUnsafeMutableBufferPointer { buffer in
            sd_journal_sendv(buffer.baseAddress, Int32(buffer.count))
        }
    }
}
