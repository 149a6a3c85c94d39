import VigilCore
import VigilShell

/// `vigil bench replay`: `vigil replay`'s engine (`Replayer`, the daemon's evaluator) over a generated
/// history, next to its floor measured in the same run: the rules and scores alone (each client's
/// `ClientReplay`, which every replay must run) over the same check-ins in the same order.
public struct ReplayBench {
    /// The generated population (clients, check-ins per client) and the pack.
    public var population: RulesBench

    public init(population: RulesBench) { self.population = population }

    public struct Report: Sendable {
        public var checkIns = 0
        public var replaySeconds = 0.0
        public var floorSeconds = 0.0
        public var escalations = 0
        public var tasks = 0
    }

    public func run() -> Report {
        let (pack, clients, eventsPerClient) = (population.pack, population.clients, population.eventsPerClient)
        population.progress("history: \(clients) clients x \(eventsPerClient) check-ins")
        // The population of `vigil bench rules`, each check-in committed on its own a second after it
        // was observed, all clients interleaved in time order.
        var random = SplitMix(seed: 42)
        var events: [HistoryEvent] = []
        events.reserveCapacity(clients * eventsPerClient)
        for client in 0..<clients {
            for index in 0..<eventsPerClient {
                let checkIn = population.makeEvent(client: client, index: index, random: &random)
                events.append(HistoryEvent(seq: 0, committedAt: checkIn.at.adding(.seconds(1)), checkIn: checkIn))
            }
        }
        events.sort { ($0.committedAt, $0.checkIn.client) < ($1.committedAt, $1.checkIn.client) }
        for index in events.indices { events[index].seq = Int64(index + 1) }

        var report = Report(checkIns: events.count)
        population.progress("replay")
        let start = SystemClock.monotonicMicroseconds()
        let run = Replayer(evaluator: pack.evaluator).run(events)
        report.replaySeconds = Double(SystemClock.monotonicMicroseconds() - start) / 1e6
        report.escalations = run.escalations.count
        report.tasks = run.tasks.count

        population.progress("floor")
        let floorStart = SystemClock.monotonicMicroseconds()
        var replays: [String: ClientReplay] = [:]
        for event in events {
            let client = event.checkIn.client
            var replay =
                replays.removeValue(forKey: client) ?? ClientReplay(ruleSet: pack.ruleSet, policy: pack.policy)
            _ = replay.ingest(event.checkIn)
            _ = replay.score(at: event.checkIn.at)
            replays[client] = replay
        }
        report.floorSeconds = Double(SystemClock.monotonicMicroseconds() - floorStart) / 1e6
        return report
    }
}
