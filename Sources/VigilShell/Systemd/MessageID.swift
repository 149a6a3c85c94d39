import Logging

/// The stable journal MESSAGE_ID of each kind of message Vigil logs (never change one; add new ones).
///
/// `systemd/vigil.catalog` explains each to supervisors (`journalctl -x`).
public enum MessageID: String, CaseIterable, Sendable {
    case started = "ffedb8cb4cd84851a9d1cdf58781d764"
    case stopping = "0ea8bfa33d9b4e039c94364775918fb0"
    case reloaded = "f92723ecd78a4ff5a5e07ff8cf754720"
    case reloadFailed = "4d07e97628a04da5b9d7fd8dba8845b6"
    case checkInRejected = "0716781b88164d44a95444497791e0a2"
    case storeUnavailable = "0e65fa8daf0541c8a3fd0c25332e0f43"
    case storeRecovered = "434f863fd0c048148a7d19e25f4d364c"
    case checkInStored = "75e06d7f42c14172ac0f31cfcd5be5f2"
    case spoolUnreadable = "df90be10cae1446db4e2ee366744cec8"
    case silenceFired = "834543906df04837806dcfd712e69a2d"

    /// The metadata key that carries it; the journal handler turns it into MESSAGE_ID=.
    public static let metadataKey = "message_id"
}

extension Logger {
    /// Logs a message of a known kind, with `VIGIL_`-prefixed structured fields in the journal.
    public func log(
        _ level: Logger.Level, _ id: MessageID, _ message: @autoclosure () -> Logger.Message,
        _ metadata: @autoclosure () -> Logger.Metadata = [:], file: String = #fileID, function: String = #function,
        line: UInt = #line
    ) {
        guard logLevel <= level else { return }
        var fields = metadata()
        fields[MessageID.metadataKey] = .string(id.rawValue)
        log(level: level, message(), metadata: fields, file: file, function: function, line: line)
    }
}
