import Glibc
import Logging
import PostgresNIO
import ServiceLifecycle
import VigilCore
import VigilShell

/// A process working on a PostgreSQL store, as `vigil status` shows it: where it runs, what it
/// does (`serve` or `notify`), when it last said so, and, for the daemon that decided the latest
/// absence round (timer work runs on one node at a time), when it did (`timer_round`, else null).
public struct NodeRecord: Codable, Equatable, Sendable {
    public var host: String
    public var role: String
    public var pid: Int
    public var version: String
    public var started: Timestamp
    public var lastSeen: Timestamp
    public var timerRound: Timestamp?

    enum CodingKeys: String, CodingKey {
        case host, role, pid, version, started
        case lastSeen = "last_seen"
        case timerRound = "timer_round"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(host, forKey: .host)
        try container.encode(role, forKey: .role)
        try container.encode(pid, forKey: .pid)
        try container.encode(version, forKey: .version)
        try container.encode(started, forKey: .started)
        try container.encode(lastSeen, forKey: .lastSeen)
        try container.encode(timerRound, forKey: .timerRound)
    }

    /// The `settings` row naming the daemon that decided the latest absence round: `HOST PID µs`.
    static let timerSetting = "timer_node"

    static func timerValue(host: String, pid: Int32, at now: Timestamp) -> String {
        "\(host) \(pid) \(now.microseconds)"
    }
}

/// Keeps this process's row in `nodes` fresh: written when it starts and every `interval` after,
/// so that `vigil status` on any host shows every node and how long ago each was last seen (a
/// stopped or dead node's row stays, ageing). A failed write is left to the next one: the
/// notifier's own queue operations report an outage.
struct PostgresNodeHeartbeat: Service {
    let client: PostgresClient
    let role: String
    let clock: any WallClock
    let logger: Logger
    var interval: Duration = .seconds(5)

    func run() async throws {
        let host = Self.hostName()
        let pid = Int64(getpid())
        let started = clock.now().microseconds
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let now = clock.now().microseconds
                _ = try? await Deadline.run(within: .seconds(10)) { [client, logger] in
                    // On a leased connection, given back when the statement has ended.
                    try await client.withConnection { connection in
                        _ = try await connection.queryIfOpen(
                            """
                            INSERT INTO nodes (host, role, pid, version, started_at, last_seen)
                            VALUES (\(host), \(role), \(pid), \(VigilVersion.current), \(started), \(now))
                            ON CONFLICT (host, role, pid) DO UPDATE SET last_seen = excluded.last_seen
                            """, logger: logger)
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `vigil status` on PostgreSQL: the store's counts (the same queries as on SQLite) and the nodes
/// seen within the last day, most recently seen first.
public enum PostgresStatus {
    public static func read(_ target: PostgresTarget, at now: Timestamp, logger: Logger)
        async throws(PostgresError) -> (status: StoreStatus, nodes: [NodeRecord])
    {
        let connection = try await target.connect(logger: logger)
        defer { Task { try? await connection.close() } }
        do {
            try await PostgresSchema.check(connection, target: target, logger: logger)
            func count(_ sql: String) async throws -> Int {
                try await connection.queryIfOpen(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?
                    .decode(Int.self) ?? 0
            }
            let last = try await connection.queryIfOpen(
                PostgresQuery(unsafeSQL: StoreStatus.lastIngestSQL), logger: logger
            )
            .collect().first?.decode(Int64.self)
            let status = StoreStatus(
                events: try await count(StoreStatus.eventsSQL), clients: try await count(StoreStatus.clientsSQL),
                rejected: try await count(StoreStatus.rejectedSQL), lastIngest: last.map(Timestamp.init(microseconds:)))
            let since = now.microseconds - 86_400_000_000
            var nodes: [NodeRecord] = []
            let rows = try await connection.queryIfOpen(
                """
                SELECT host, role, pid, version, started_at, last_seen FROM nodes WHERE last_seen >= \(since)
                ORDER BY last_seen DESC, host, role, pid
                """, logger: logger)
            for try await (host, role, pid, version, started, seen) in rows.decode(
                (String, String, Int, String, Int64, Int64).self)
            {
                nodes.append(
                    NodeRecord(
                        host: host, role: role, pid: pid, version: version,
                        started: Timestamp(microseconds: started), lastSeen: Timestamp(microseconds: seen)))
            }
            // The daemon that decided the latest absence round.
            let timer = try await connection.queryIfOpen(
                "SELECT value FROM settings WHERE key = \(NodeRecord.timerSetting)", logger: logger
            ).collect().first?.decode(String.self).split(separator: " ").map(String.init)
            if let timer, timer.count == 3, let pid = Int(timer[1]), let at = Int64(timer[2]),
                let index = nodes.firstIndex(where: { $0.role == "serve" && $0.host == timer[0] && $0.pid == pid })
            {
                nodes[index].timerRound = Timestamp(microseconds: at)
            }
            return (status, nodes)
        } catch {
            throw PostgresError.wrap(error, target: target, doing: "cannot read the status")
        }
    }
}
