import Foundation
import GRDB
import Synchronization

/// Copies the write-ahead log back into the database on a connection and thread of its own, so the
/// thread that commits check-ins does not: SQLite otherwise checkpoints on the committing
/// connection, inside each commit that leaves more than 1,000 pages of log (at the ingest's pace,
/// nearly every one). Each commit asks for a checkpoint; asks while one waits to start are one.
///
/// PASSIVE: it neither waits for nor blocks the writer or a reader, and durability does not depend
/// on it (a commit is durable once its log frames are synced). A checkpoint that fails (a full
/// disk) leaves the frames in the log, to be copied by the next one. The writer keeps an automatic
/// checkpoint of its own at `fallbackPages`: it bounds the log should this fall behind, and lets
/// SQLite start the log over once every frame is copied.
final class WALCheckpointer: Sendable {
    static let fallbackPages = 10_000
    private let connection: DatabaseQueue
    /// Whether a checkpoint is queued that has not started yet.
    private let pending = Mutex(false)

    init(path: String) throws {
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        connection = try DatabaseQueue(path: path, configuration: config)
    }

    /// Asks for a checkpoint (returns at once).
    func request() {
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
