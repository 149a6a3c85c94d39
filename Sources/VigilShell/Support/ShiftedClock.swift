import Foundation
import VigilCore

/// The test-only clock of the time suite: the system clock shifted by the whole seconds written in
/// the file named by `VIGIL_TEST_CLOCK_OFFSET_FILE` (read at every reading, so a test can jump the
/// daemon's and the notifier's "now" forward and back while they run). Never set it in production.
public struct ShiftedClock: WallClock {
    public static let variable = "VIGIL_TEST_CLOCK_OFFSET_FILE"
    let path: String
    let system = SystemClock()

    public func now() -> Timestamp {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "0"
        let seconds = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return system.now().adding(.seconds(seconds))
    }

    /// The clock a daemon or notifier runs on: shifted when the variable is set, else the system's.
    public static func fromEnvironment() -> (clock: any WallClock, shifted: Bool) {
        guard let path = ProcessInfo.processInfo.environment[variable] else { return (SystemClock(), false) }
        return (ShiftedClock(path: path), true)
    }
}
