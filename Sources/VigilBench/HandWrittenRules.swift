import VigilCore

/// The default rule pack written by hand in Swift: the floor `vigil bench rules` measures the
/// engine against. It must compute exactly the firings the pack does; the benchmark checks that on
/// every event and fails loudly when the pack and this reference drift apart.
enum HandWrittenRules {
    static let acuteStressors: Set<String> = [
        "job_loss", "housing_loss", "bereavement", "relationship_breakup", "legal", "conflict_at_home",
    ]
    static let lastingStressors: Set<String> = [
        "financial_strain", "health_problem", "anniversary_of_loss", "loss_of_benefits", "custody_dispute",
    ]
    static let lostTolerance: Set<String> = ["released_from_custody", "released_from_detox"]
    /// The rules that fire on one sign code, by code (in the pack's file order).
    static let signRules: [(code: String, rule: String)] = [
        ("talking_about_death", "talking-about-death"), ("seeking_means", "seeking-means"),
        ("giving_away_possessions", "giving-away-possessions"), ("feeling_trapped", "feeling-trapped"),
        ("no_reason_to_live", "no-reason-to-live"), ("agitation", "agitation"), ("recklessness", "recklessness"),
        ("irritability", "irritability"), ("withdrawing_from_routines", "withdrawing-from-routines"),
        ("romanticizing_use", "romanticizing-use"), ("isolation", "isolation"), ("hopelessness", "hopelessness"),
        ("cravings_intensifying", "cravings-intensifying"), ("contact_with_using_peers", "contact-with-using-peers"),
        ("skipping_meetings", "skipping-meetings"), ("missed_medication", "missed-medication"),
        ("sleep_disturbance", "sleep-disturbance"), ("neglecting_self_care", "neglecting-self-care"),
        ("secrecy", "secrecy"), ("using_alone", "using-alone"), ("mixing_substances", "mixing-substances"),
        ("lapse", "lapse"),
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
            if event.stressors.contains(where: lastingStressors.contains) { ids.append("lasting-stressor") }
            if event.stressors.contains(where: lostTolerance.contains) { ids.append("lost-tolerance") }
            if event.stressors.contains("discharge_from_care") { ids.append("discharged-from-care") }
        }
        if !event.signs.isEmpty {
            for (code, rule) in signRules where event.signs.contains(code) { ids.append(rule) }
        }
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
            if earlier + 1 >= 3 { ids.append("third-missed-appointment") }
        }
        if event.kind == .overdose { ids.append("overdose") }
        if event.kind == .edVisit { ids.append("ed-visit") }
        if event.kind == .crisisCall { ids.append("crisis-call") }
        if event.kind == .discharge { ids.append("discharge") }
        if let screening = event.screening {
            if screening.wishDead || screening.suicidalThoughts { ids.append("cssrs-ideation") }
            if screening.method == true { ids.append("cssrs-method") }
            if screening.intent == true || screening.plan == true { ids.append("cssrs-intent-or-plan") }
            if screening.behaviorPast3Months { ids.append("cssrs-recent-behavior") }
        }
        return ids
    }
}
