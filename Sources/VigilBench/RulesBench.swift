import VigilCore
import VigilShell

/// `vigil bench rules`: the rule engine over a generated population, next to `HandWrittenRules` (the
/// same firings computed by plain Swift) on the same events in the same run; and the engine's cost
/// per event as a client's history grows.
public struct RulesBench {
    public var clients = 10_000
    public var eventsPerClient = 200
    public let pack: RulePack
    public var progress: (String) -> Void

    public init(pack: RulePack, progress: @escaping (String) -> Void) {
        self.pack = pack
        self.progress = progress
    }

    /// The figures of one run.
    public struct Report: Sendable {
        public var events = 0
        public var engineSeconds = 0.0
        public var handSeconds = 0.0
        public var firings = 0
        /// Microseconds per event after a history of each length.
        public var costByHistory: [(length: Int, microseconds: Double)] = []
    }

    public func run() throws -> Report {
        var report = Report()
        var random = SplitMix(seed: 42)
        for client in 0..<clients {
            if client % 1000 == 0 { progress("population: client \(client) of \(clients)") }
            let events = (0..<eventsPerClient).map { makeEvent(client: client, index: $0, random: &random) }
            // Each side keeps the same 14-day history in its own form: the engine the facts its
            // aggregates read (computed once per event), the hand-written code the events themselves.
            let ruleSet = pack.ruleSet
            let eventRules = ruleSet.eventRules
            var engineHistory = ruleSet.emptyHistory()
            var engineFired: [[String]] = []
            engineFired.reserveCapacity(events.count)
            let engineStart = SystemClock.monotonicMicroseconds()
            for event in events {
                let observed = ObservedEvent(event)
                engineFired.append(ruleSet.firedRules(for: observed, history: engineHistory).map { eventRules[$0].id })
                ruleSet.record(observed, in: &engineHistory)
                engineHistory.trim(before: event.at.adding(TimeSpan(microseconds: -ruleSet.lookBack.microseconds)))
            }
            report.engineSeconds += Double(SystemClock.monotonicMicroseconds() - engineStart) / 1e6

            var history: [ObservedEvent] = []
            var handFired: [[String]] = []
            handFired.reserveCapacity(events.count)
            let handStart = SystemClock.monotonicMicroseconds()
            for event in events {
                handFired.append(HandWrittenRules.fired(event, history: history[...]))
                history.append(ObservedEvent(event))
                trim(&history)
            }
            history = []  // released inside the timing, as the engine's events are
            report.handSeconds += Double(SystemClock.monotonicMicroseconds() - handStart) / 1e6
            for (index, (engine, hand)) in zip(engineFired, handFired).enumerated()
            where engine.sorted() != hand.sorted() {
                throw BenchError(
                    "client \(client) event \(index): the engine fired \(engine.sorted()) but the hand-written reference "
                        + "\(hand.sorted()); the pack and HandWrittenRules differ")
            }
            report.events += events.count
            report.firings += engineFired.reduce(0) { $0 + $1.count }
        }
        for length in [10, 1_000, 100_000] {
            progress("history length \(length)")
            report.costByHistory.append((length, costPerEvent(afterHistory: length, random: &random)))
        }
        return report
    }

    /// Microseconds per event for 2,000 events evaluated after `length` earlier ones.
    func costPerEvent(afterHistory length: Int, random: inout SplitMix) -> Double {
        var replay = ClientReplay(ruleSet: pack.ruleSet, policy: pack.policy)
        for index in 0..<length { replay.ingest(makeEvent(client: 0, index: index, random: &random)) }
        let probe = (length..<(length + 2_000)).map { makeEvent(client: 0, index: $0, random: &random) }
        let start = SystemClock.monotonicMicroseconds()
        for event in probe { replay.ingest(event) }
        return Double(SystemClock.monotonicMicroseconds() - start) / Double(probe.count)
    }

    /// The hand-written path keeps the same 14-day history the engine keeps.
    func trim(_ history: inout [ObservedEvent]) {
        guard let newest = history.last?.checkIn.at.microseconds else { return }
        let cutoff = newest - pack.ruleSet.lookBack.microseconds
        if let keep = history.firstIndex(where: { $0.checkIn.at.microseconds >= cutoff }), keep > 0 {
            history.removeFirst(keep)
        }
    }

    /// A check-in every 2–6 hours, with measures, codes and kinds drawn so that every rule fires now and then.
    func makeEvent(client: Int, index: Int, random: inout SplitMix) -> CheckIn {
        let signs = HandWrittenRules.signRules.map(\.code)
        let stressors = [
            "job_loss", "conflict_at_home", "legal", "financial_strain", "released_from_detox", "discharge_from_care",
        ]
        let protective = ["naloxone_on_hand", "safety_plan_reviewed", "attending_meetings"]
        let kinds: [CheckIn.Kind] = [
            .checkin, .checkin, .checkin, .checkin, .checkin, .checkin, .contact, .missedAppointment, .screening,
            .crisisCall, .edVisit, .discharge, .overdose,
        ]
        let at = RuleTests.epoch.adding(.hours(Int64(index) * 4 + Int64(random.next(4))))
        let kind = random.next(10) < 7 ? CheckIn.Kind.checkin : kinds[random.next(kinds.count)]
        var measures: [(name: String, value: Double)] = []
        if random.next(2) == 0 { measures.append(("mood", Double(random.next(11)))) }
        if random.next(2) == 0 { measures.append(("craving", Double(random.next(11)))) }
        if random.next(3) == 0 { measures.append(("sleep_hours", Double(3 + random.next(7)) + 0.5)) }
        let screening =
            kind == .screening
            ? CheckIn.Screening(
                wishDead: random.next(2) == 0, suicidalThoughts: random.next(3) == 0, method: random.next(4) == 0,
                intent: random.next(8) == 0, plan: random.next(8) == 0, behaviorPast3Months: random.next(10) == 0)
            : nil
        return CheckIn(
            id: "c\(client)-\(index)", client: "c\(client)", at: at, kind: kind, source: .peer, measures: measures,
            signs: random.next(4) == 0 ? [signs[random.next(signs.count)]] : [],
            stressors: random.next(5) == 0 ? [stressors[random.next(stressors.count)]] : [],
            protective: random.next(4) == 0 ? [protective[random.next(protective.count)]] : [], screening: screening,
            contact: kind == .contact ? CheckIn.Contact(outcome: .reached) : nil)
    }
}

/// A small seeded generator, so every run benchmarks the same population (and the cluster test
/// runs the same check-ins).
public struct SplitMix {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    /// A number in `0..<bound`.
    public mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
