import ArgumentParser
import Logging
import PostgresNIO
import VigilBench
import VigilPostgres
import VigilShell

/// Where `vigil bench ingest` writes besides SQLite.
enum BenchStore: String, ExpressibleByArgument, CaseIterable {
    case sqlite, postgres
}

/// Scratch databases for `vigil bench ingest --store postgres`, created (and migrated) on the
/// configuration's PostgreSQL server before the run and dropped after it: the bench never writes
/// into the configured store itself.
struct PostgresScratch {
    let target: PostgresTarget
    /// The configuration's password file (the nodes of `bench e2e` read it).
    let passwordFile: String?
    let names: [String]
    let logger: Logger

    /// The server, for the report (no password).
    var server: String { "\(target.host):\(target.port)" }

    /// Creates `databases` empty stores named `vigil_bench_PID_N`; needs CREATEDB on the server.
    static func create(_ config: VigilConfig, databases: Int, progress: (String) -> Void) async throws
        -> PostgresScratch
    {
        guard case .postgres(let url, let passwordFile) = config.store else {
            throw ValidationError(
                "--store postgres: \(config.origin) has no store.backend: postgres to create scratch databases on")
        }
        var logger = Logger(label: "vigil-bench")
        logger.logLevel = .critical
        let target = try PostgresTarget(url: url, passwordFile: passwordFile)
        let names = (0..<databases).map { "vigil_bench_\(getpid())_\($0)" }
        progress("creating \(databases) scratch databases on \(target.host):\(target.port)")
        let connection = try await target.connect(logger: logger)
        do {
            for name in names {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            }
            try await connection.close()
        } catch {
            try? await connection.close()
            throw PostgresError.wrap(error, target: target, doing: "cannot create the bench's scratch databases")
        }
        let scratch = PostgresScratch(target: target, passwordFile: passwordFile, names: names, logger: logger)
        for name in names { try await PostgresSchema.migrate(scratch.target(name), logger: logger) }
        return scratch
    }

    func target(_ database: String) -> PostgresTarget {
        var target = self.target
        target.database = database
        return target
    }

    /// The bench's other store: each ingest gets the next scratch database.
    func ingestStores() -> IngestBench.OtherStore {
        var unused = names
        return IngestBench.OtherStore(name: "postgres") { stages in
            guard !unused.isEmpty else { throw BenchError("more ingests than scratch databases") }
            let store = PostgresEventStore(target: target(unused.removeFirst()), stages: stages, logger: logger)
            return (store, { store.close() })
        }
    }

    /// The first scratch database as the store of `vigil bench e2e`'s nodes: their `store:` section
    /// and a count of its events.
    func sharedStore() throws -> EndToEndBench.SharedStore {
        guard case .some(let passwordFile) = passwordFile else {
            throw ValidationError("--store postgres: the configuration's store has no password_file")
        }
        let store = target(names[0])
        let url =
            "postgres://\(store.user)@\(store.host):\(store.port)/\(store.database)"
            + (store.requireTLS ? "" : "?sslmode=disable")
        let yaml = "store:\n  backend: postgres\n  url: \"\(url)\"\n  password_file: \(passwordFile)"
        let access = try PostgresStoreAccess(target: store, logger: logger)
        return EndToEndBench.SharedStore(yaml: yaml) { try access.events() }
    }

    /// Drops the scratch databases.
    func drop() async {
        guard let connection = try? await target.connect(logger: logger) else { return }
        for name in names {
            _ = try? await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
        try? await connection.close()
    }
}
