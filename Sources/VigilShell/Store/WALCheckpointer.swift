import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database on a connection and thread of its own, so the
/// thread that commits check-ins does not. SQLite checkpoints on the committing connection, inside
/// each commit that leaves more than 1,000 pages of log: at the ingest's pace, nearly every one.
/// Here the writer's log hook sees the log's length after each commit and, past the same 1,000
/// pages, asks this checkpointer's thread instead; asks while one waits to start are one. Small
/// commits (check-ins one by one) checkpoint as rarely as SQLite's own would: a checkpoint syncs
/// the database file, and one per commit would double the disk's syncs.
///
/// PASSIVE: it neither waits for nor blocks the writer or a reader, and durability does not depend
/// on it (a commit is durable once its log frames are synced). A checkpoint that fails (a full
/// disk) leaves the frames in the log, for the next one. Should the log still reach `inlinePages`
/// (a reader holding its pages), the writer checkpoints inline, as SQLite would.
final class WALCheckpointer: Sendable {
    static let asidePages: Int32 = 1_000
    static let inlinePages: Int32 = 10_000
    private let path: String
    /// The checkpointing connection, once the store is open (`open()`).
    private let connection = Mutex<DatabaseQueue?>(nil)
    /// Whether a checkpoint is queued that has not started yet.
    private let pending = Mutex(false)

    init(path: String) { self.path = path }

    /// Replaces SQLite's automatic checkpoint on the writer's connection with this checkpointer.
    /// The checkpointer must outlive the connection (the store holds both).
    func watch(_ db: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, writer, _, pages in
                if pages >= WALCheckpointer.inlinePages {
                    sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if pages >= WALCheckpointer.asidePages, let context {
                    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().request()
                }
                return SQLITE_OK
            }, context)
    }

    /// Opens the checkpointing connection (once the store exists in WAL mode).
    func open() throws {
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: path, configuration: config)
        connection.withLock { $0 = queue }
    }

    /// Waits for a checkpoint asked for or in progress, then closes the checkpointing connection, so
    /// that the store closes when its owner lets it go (another process may then need the database
    /// to itself) and the writer's connection is the last to close: SQLite copies the whole log into
    /// the database and removes it only when the last connection that has read it closes. (Closed
    /// the other way round, the log stayed beside the database: emptied by hand, the database then
    /// still looked like a store.)
    func finish() {
        let connection = connection.withLock { queue in
            defer { queue = nil }
            return queue
        }
        guard let connection else { return }
        connection.writeWithoutTransaction { _ in }
        try? connection.close()
    }

    /// Asks for a checkpoint (returns at once).
    private func request() {
        guard let connection = connection.withLock({ $0 }) else { return }
        let first = pending.withLock { queued in
            defer { queued = true }
            return !queued
        }
        guard first else { return }
        connection.asyncWriteWithoutTransaction { [self] db in
            pending.withLock { $0 = false }
            _ = try? db.checkpoint(.passive)
        }
    }
}
