import Foundation
import Logging

/// Chooses where logs go, once per process: the journal under systemd, otherwise one line per entry on stderr.
public enum LogSetup {
    /// Where log entries are written.
    public enum Target: String, CaseIterable, Sendable {
        case auto, journal, stderr
    }

    /// Under systemd `JOURNAL_STREAM` is set (stdout/stderr connected to the journal); then `auto` is `journal`.
    public static func bootstrap(_ target: Target, level: Logger.Level, identifier: String = "vigil") {
        let useJournal: Bool
        switch target {
        case .journal: useJournal = true
        case .stderr: useJournal = false
        case .auto: useJournal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                useJournal
                ? JournalLogHandler(identifier: identifier)
                : EscapingLogHandler(wrapping: StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }
}
