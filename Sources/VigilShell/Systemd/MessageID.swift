import Logging
import VigilCore

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
    case episodeRaised = "69321696fd7c4633aa35d92652682323"
    case escalationEnqueued = "e0b0dc85625040518004a5580fd946c4"
    case contactRecorded = "c2b4fc67009b455ab244f89394cb0035"
    case taskAlert = "25fcdcb9734545e3adae14e5ed4fb328"
    case taskDelivered = "44b0fab1287d45f9911b83aba99aeb11"
    case taskRetrying = "2ddf76cdbe0343c3a7764b5f85fac9ae"
    case taskDead = "83a03042176441c89737b9a85a338f82"
    case taskOverdue = "000e9366ff4c44ef822fd5ff74544b6d"
    case spoolUnwritable = "8cd8930941464e178da311853c79c791"
    case spoolRecovered = "e0633bbead724e23a0c579a175cd86a4"
    case spoolLayoutChanged = "091d0fd9f3e7464b8eafdb8a945bdd87"
    case refusedCrisis = "031802373f254668808ef046bde06dae"
    case taskSuperseded = "870caded533643e3bbce863cb646a365"
    case taskEnded = "714b9c7e09b448e9bce5f3be588cc0e2"
    case programChanged = "aefa1b99a44c4805b559b8cebe92aad5"
    case taskActedOn = "9b14a3180cde4aa68621789fc8dfa63b"
    case apiStarted = "0ada92da04b545a68024848e84e31f9a"
    case apiCheckInsAccepted = "8d801c24a7c048e18433b2f85d963724"
    case apiRequestRefused = "052d01c500ad4affaf823f195c8c3aad"

    /// The metadata key that carries it; the journal handler turns it into MESSAGE_ID=.
    public static let metadataKey = "message_id"
}

extension Tier {
    /// The journal priority of an alert at this tier: it rises with the tier (imminent is LOG_CRIT),
    /// so `journalctl -p warning` shows high and imminent alerts.
    public var logLevel: Logger.Level {
        switch self {
        case .low: return .info
        case .moderate: return .notice
        case .high: return .warning
        case .imminent: return .critical
        }
    }
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
