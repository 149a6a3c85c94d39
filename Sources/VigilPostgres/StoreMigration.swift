import GRDB
import Logging
import NIOCore
import PostgresNIO
import VigilShell

/// `vigil store migrate`: copies a SQLite store, every table as of one instant (events,
/// evaluations, episodes, tasks with their states, …), into an empty PostgreSQL store, in one
/// transaction: the copy is committed only once every table's row count in PostgreSQL equals the
/// snapshot's, so a failure at any point leaves the target as it was.
public enum StoreMigration {
    /// One table copied.
    public struct Copied: Sendable, Equatable {
        public let table: String
        public let rows: Int
    }

    /// Rows per page read from SQLite and written to the COPY stream.
    static let pageSize = 2_000

    /// Copies `snapshot` into `target` (its schema migrated first); `progress` hears each page
    /// copied: the table, its rows copied so far and its rows in all. Throws `PostgresError` (the target: unreachable, not empty, a different schema)
    /// or `StoreError` (the source).
    public static func run(
        from snapshot: StoreSnapshot, to target: PostgresTarget, logger: Logger,
        progress: @escaping (_ table: String, _ copied: Int, _ rows: Int) -> Void
    ) async throws -> [Copied] {
        let connection = try await target.connect(logger: logger)
        do {
            try await PostgresSchema.migrate(connection, target: target, logger: logger)
            let copied = try await copy(snapshot, into: connection, target: target, logger: logger, progress: progress)
            try? await connection.close()
            return copied
        } catch {
            try? await connection.close()
            throw error
        }
    }

    static func copy(
        _ snapshot: StoreSnapshot, into connection: PostgresConnection, target: PostgresTarget, logger: Logger,
        progress: @escaping (_ table: String, _ copied: Int, _ rows: Int) -> Void
    ) async throws -> [Copied] {
        var plans: [(table: String, columns: [String], primaryKey: [String], rows: Int)] = []
        for table in StoreSnapshot.tables {
            let (columns, primaryKey) = try snapshot.columns(of: table)
            plans.append((table, columns, primaryKey, try snapshot.count(table)))
        }
        do {
            return try await connection.transaction(logger: logger) { connection in
                try await PostgresSchema.takeMigrationLock(connection, target: target, logger: logger)
                try await checkTarget(
                    connection, plans: plans.map { ($0.table, $0.columns) }, target: target, logger: logger)
                var copied: [Copied] = []
                for plan in plans {
                    var written = 0
                    try await connection.copyFrom(
                        table: plan.table, columns: plan.columns, logger: logger
                    ) { writer in
                        var key: [DatabaseValue]?
                        repeat {
                            let page = try snapshot.page(
                                plan.table, columns: plan.columns, primaryKey: plan.primaryKey, after: key,
                                limit: pageSize)
                            guard !page.rows.isEmpty else { break }
                            try await writer.write(try CopyText.encode(page.rows, table: plan.table))
                            written += page.rows.count
                            key = page.last
                            progress(plan.table, written, plan.rows)
                        } while true
                    }
                    copied.append(Copied(table: plan.table, rows: written))
                }
                for (table, column) in PostgresSchema.identities {
                    try await connection.queryIfOpen(
                        PostgresQuery(
                            unsafeSQL:
                                "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), coalesce(max(\(column)), 0) + 1, false) FROM \(table)"
                        ), logger: logger)
                }
                var mismatches: [String] = []
                for plan in plans {
                    let stored =
                        try await connection.queryIfOpen(
                            PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(plan.table)"), logger: logger
                        )
                        .collect().first?.decode(Int.self) ?? -1
                    if stored != plan.rows {
                        mismatches.append("\(plan.table): \(plan.rows) in SQLite, \(stored) copied")
                    }
                }
                guard mismatches.isEmpty else {
                    throw PostgresError(
                        target: target.description,
                        problem:
                            "the copy does not match the source, nothing was kept: \(mismatches.joined(separator: "; "))",
                        exitStatus: .software)
                }
                return copied
            }
        } catch {
            throw PostgresError.wrap(error, target: target, doing: "cannot copy the store")
        }
    }

    /// Refuses a target that already holds rows (this copies into an empty store only) or whose
    /// tables' columns differ from the source's, naming every table.
    static func checkTarget(
        _ connection: PostgresConnection, plans: [(table: String, columns: [String])], target: PostgresTarget,
        logger: Logger
    ) async throws {
        var problems: [String] = []
        for (table, columns) in plans {
            var present: Set<String> = []
            for try await name in try await connection.queryIfOpen(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(table)",
                logger: logger
            ).decode(String.self) {
                present.insert(name)
            }
            if present != Set(columns) {
                let missing = Set(columns).subtracting(present).sorted()
                let extra = present.subtracting(columns).sorted()
                problems.append(
                    "\(table) differs from the source's (missing: \(missing.joined(separator: ", ")); extra: \(extra.joined(separator: ", ")))"
                )
                continue
            }
            let rows =
                try await connection.queryIfOpen(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: logger
                )
                .collect().first?.decode(Int.self) ?? 0
            if rows > 0 { problems.append("\(table) already holds \(rows) rows") }
        }
        guard problems.isEmpty else {
            throw PostgresError(
                target: target.description,
                problem: "not an empty Vigil store: \(problems.joined(separator: "; ")); migrate into a new database",
                exitStatus: .config)
        }
    }
}

/// Rows in the text format of PostgreSQL's COPY: tab-separated, `\N` for null, backslash escapes.
enum CopyText {
    static func encode(_ rows: [[DatabaseValue]], table: String) throws -> ByteBuffer {
        var text = ""
        text.reserveCapacity(rows.count * 128)
        for row in rows {
            for (index, value) in row.enumerated() {
                if index > 0 { text.append("\t") }
                switch value.storage {
                case .null: text.append("\\N")
                case .int64(let integer): text.append(String(integer))
                case .double(let real):
                    text.append(real.isFinite ? "\(real)" : real.isNaN ? "NaN" : real > 0 ? "Infinity" : "-Infinity")
                case .string(let string): escape(string, into: &text)
                case .blob:
                    throw PostgresError(
                        target: table,
                        problem: "holds a binary value, which no Vigil table has: is this a Vigil store?",
                        exitStatus: .software)
                }
            }
            text.append("\n")
        }
        return ByteBuffer(string: text)
    }

    static func escape(_ string: String, into text: inout String) {
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\\": text.append("\\\\")
            case "\t": text.append("\\t")
            case "\n": text.append("\\n")
            case "\r": text.append("\\r")
            default: text.unicodeScalars.append(scalar)
            }
        }
    }
}
