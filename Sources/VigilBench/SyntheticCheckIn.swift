import VigilCore
import VigilShell

/// A check-in the benchmarks write into the spool, as a writer would send it.
struct SyntheticCheckIn: Encodable {
    /// The C-SSRS screener's answers.
    struct Screening: Encodable {
        var wishDead, suicidalThoughts, method, intent, plan, behaviorPast3Months: Bool

        enum CodingKeys: String, CodingKey {
            case wishDead = "wish_dead"
            case suicidalThoughts = "suicidal_thoughts"
            case method, intent, plan
            case behaviorPast3Months = "behavior_past_3_months"
        }
    }

    var id: String
    var client: String
    var at: Timestamp
    var kind = "checkin"
    var source = "peer"
    var measures: [String: Int]?
    var signs: [String]?
    var protective: [String]?
    var screening: Screening?
    var note: String?

    /// The JSON text of a spool file.
    var json: String { JSONOutput.text(self) }

    /// Its bytes.
    var bytes: [UInt8] { Array(json.utf8) }
}
