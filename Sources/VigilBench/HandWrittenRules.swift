import VigilCore

/// The default rule pack written by hand in Swift: the floor `vigil bench rules` measures the
/// engine against. It must compute exactly the firings the pack does; the benchmark checks that on
/// every event and fails loudly when the pack and this reference drift apart.
enum HandWrittenRules {
    static let acuteStressors: Set<String> = [
        "job_loss", "housing_loss", "bereavement", "relationship_breakup", "legal", "conflict_at_home",
    ]

    /// The ids of the rules that fire on `event` given `history` (sorted by observation time). Written
    /// as an expert would: each window is walked only when the event could fire the rule that needs it.
    static func fired(_ event: CheckIn, history: ArraySlice<ObservedEvent>) -> [String] {
        var ids: [String] = []
        let at = event.at.microseconds
        let day: Int64 = 86_400_000_000
        /// Calls `body` for each earlier event observed within `days` before `event`, newest first.
        func window(_ days: Int64, _ body: (CheckIn) -> Void) {
            for earlier in history.reversed() {
                let age = at - earlier.checkIn.at.microseconds
                if age >= days * day { break }
                if age >= 0 { body(earlier.checkIn) }
            }
        }
        func average(_ measure: (KnownMeasures) -> Double?, current: Double) -> Double {
            var sum = current
            var count = 1.0
            window(14) { earlier in
                if let value = measure(earlier.known) {
                    sum += value
                    count += 1
                }
            }
            return sum / count
        }
        if !event.stressors.isEmpty {
            var earlier = 0
            window(7) { if !$0.stressors.isEmpty { earlier += 1 } }
            if earlier + 1 >= 2 { ids.append("stressor-cascade") }
            if event.stressors.contains(where: acuteStressors.contains) { ids.append("acute-stressor") }
        }
        if event.signs.contains("withdrawing_from_routines") { ids.append("withdrawing-from-routines") }
        if event.signs.contains("romanticizing_use") { ids.append("romanticizing-use") }
        if event.signs.contains("isolation") { ids.append("isolation") }
        if event.signs.contains("hopelessness") { ids.append("hopelessness") }
        if let sleep = event.known.sleepHours, sleep < 5 {
            var earlier = 0
            window(3) { if let value = $0.known.sleepHours, value < 5 { earlier += 1 } }
            if earlier + 1 >= 2 { ids.append("sleep-deprivation") }
        }
        if let craving = event.known.craving, craving >= average({ $0.craving }, current: craving) + 3 {
            ids.append("craving-rise")
        }
        if let mood = event.known.mood, mood <= average({ $0.mood }, current: mood) - 3 { ids.append("mood-drop") }
        if event.kind == .missedAppointment {
            ids.append("missed-appointment")
            var earlier = 0
            window(14) { if $0.kind == .missedAppointment { earlier += 1 } }
            if earlier + 1 >= 2 { ids.append("repeated-missed-appointments") }
        }
        if event.signs.contains("lapse") { ids.append("lapse") }
        if event.kind == .overdose { ids.append("overdose") }
        if event.kind == .edVisit { ids.append("ed-visit") }
        if event.kind == .crisisCall { ids.append("crisis-call") }
        if event.kind == .discharge { ids.append("discharge") }
        if event.protective.contains("naloxone_on_hand") { ids.append("naloxone-on-hand") }
        if event.protective.contains("safety_plan_reviewed") { ids.append("safety-plan-reviewed") }
        if event.protective.contains("attending_meetings") { ids.append("attending-meetings") }
        if let screening = event.screening {
            if screening.wishDead || screening.suicidalThoughts { ids.append("cssrs-ideation") }
            if screening.method == true { ids.append("cssrs-method") }
            if screening.intent == true || screening.plan == true || screening.behaviorPast3Months {
                ids.append("cssrs-intent-plan-or-behavior")
            }
        }
        return ids
    }
}
