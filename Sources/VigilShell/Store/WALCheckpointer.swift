import Dispatch
import Foundation
import GRDB
import GRDBSQLite

/// Copies the daemon's write-ahead log into the database file on a thread of its own, off the
/// commit path. SQLite's automatic checkpoint runs in the committing thread, after the commit and
/// before the ingest can go on; in `vigil bench ingest` it took about a fifth of each commit.
///
/// It replaces the writer connection's automatic checkpoint with a WAL hook. Once a commit leaves
/// `backgroundFrames` frames or more in the log, a passive checkpoint is asked of a second
/// connection, on a serial queue (requests made while one runs coalesce into one more). A passive
/// checkpoint never blocks the writer or readers. Should the log still reach `inlineFrames` (the
/// checkpointer falling behind, or failing), the writer checkpoints inline, as SQLite would by
/// itself, so the log stays bounded. Durability does not change: each commit's frames are fsynced
/// in the log before the commit returns; a checkpoint only moves them.
final class WALCheckpointer: @unchecked Sendable {
    /// SQLite's own automatic checkpoint threshold.
    static let backgroundFrames: Int32 = 1_000
    /// About 64 MiB of log with 4 KiB pages.
    static let inlineFrames: Int32 = 16_000

    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "vigil.store.checkpoint")
    /// Guards `requested`: whether a checkpoint is queued and not yet started.
    private let lock = NSLock()
    private var requested = false

    /// Opens the second connection to the store at `path` (already created and in WAL mode).
    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Takes over `db`'s checkpoints (call `detach` before the checkpointer goes).
    func attach(to db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, name, frames in
                guard let context else { return SQLITE_OK }
                let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
                checkpointer.committed(frames: frames, connection: connection, name: name)
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Gives `db`'s checkpoints back to SQLite's automatic checkpoint.
    func detach(from db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, nil, nil)
        sqlite3_wal_autocheckpoint(db.sqliteConnection, Self.backgroundFrames)
    }

    /// Called by SQLite on the writer's thread after each commit, with the frames now in the log.
    private func committed(frames: Int32, connection: OpaquePointer?, name: UnsafePointer<CChar>?) {
        if frames >= Self.inlineFrames {
            sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        } else if frames >= Self.backgroundFrames {
            request()
        }
    }

    /// Queues a passive checkpoint unless one is queued already.
    func request() {
        let queued = lock.withLock {
            defer { requested = true }
            return requested
        }
        guard !queued else { return }
        queue.async { [self] in
            lock.withLock { requested = false }
            // A failure (a full disk) is retried at the next request; the writer's inline
            // checkpoint keeps the log bounded meanwhile.
            _ = try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
        }
    }

    /// Waits until every checkpoint asked for so far has run.
    func drain() { queue.sync {} }
}
