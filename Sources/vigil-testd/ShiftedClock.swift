import Foundation
import VigilCore
import VigilShell

/// The time suite's clock: the system clock shifted by the whole seconds written in a file (read
/// at every reading, so a test can jump the daemon's and the notifier's "now" forward and back
/// while they run).
struct ShiftedClock: WallClock {
    let path: String
    let system = SystemClock()

    func now() -> Timestamp {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "0"
        let seconds = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return system.now().adding(.seconds(seconds))
    }
}
