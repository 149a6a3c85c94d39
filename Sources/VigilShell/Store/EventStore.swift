import Foundation
import GRDB
import Glibc
import VigilCore

/// The embedded SQLite store: events, clients and rejections, in WAL mode with `synchronous=FULL`,
/// so a commit that returned is on disk and a spool file may then be unlinked.
public final class EventStore: Sendable {
    public let path: String
    let queue: DatabaseQueue
    let stages: [any CommitStage]
    /// Checkpoints the log off the committing thread (the daemon's store), or nil: SQLite's own.
    let checkpointer: WALCheckpointer?

    /// The page cache of a store opened without saying (the daemon's and the bench's).
    public static let defaultCacheKiB = 16_384

    /// The connection settings of the store, which `vigil bench ingest`'s floors use too. Statement
    /// journals (an upsert's undo log inside the events' transaction) stay in memory: spilled to
    /// temp files they cost a tenth of ingest and put page images of check-ins, notes included, on
    /// the temp disk.
    public static func settings(cacheKiB: Int) -> String {
        "PRAGMA synchronous = FULL; PRAGMA cache_size = -\(cacheKiB); PRAGMA temp_store = MEMORY"
    }

    /// Opens (creating if needed, mode 0600) and migrates the database at `path`. `cacheKiB` bounds
    /// SQLite's page cache: 16 MiB for the daemon's ingest (appends and recent clients' pages); the
    /// notifier and commands need less.
    ///
    /// A store, once created, leaves a marker beside it (`PATH.created`): a database file that is
    /// then missing or empty (truncated, replaced) is refused, never silently recreated empty.
    ///
    /// `checkpointsAside`: the log is copied back into the database on a thread of its own
    /// (`WALCheckpointer`), for the daemon's ingest, whose commits would otherwise pay for it.
    public init(
        path: String, stages: [any CommitStage] = [ClientIndex()], cacheKiB: Int = EventStore.defaultCacheKiB,
        checkpointsAside: Bool = false
    ) throws(StoreError) {
        self.path = path
        self.stages = stages
        let marker = path + ".created"
        var info = stat()
        if lstat(marker, &info) == 0, let missing = Self.isMissingOrEmpty(path) {
            throw StoreError(
                path: path,
                problem:
                    "the database is \(missing ? "missing" : "empty"), but \(marker) says a store was created here: "
                    + "every event and open task would be lost. Restore it from a backup; only to start afresh on purpose, "
                    + "remove the marker",
                exitStatus: .config)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw StoreError(path: path, problem: SystemError("open", path: path).description) }
        close(fd)
        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(10)
        let checkpointer = checkpointsAside ? WALCheckpointer(path: path) : nil
        config.prepareDatabase { db in
            try db.execute(sql: Self.settings(cacheKiB: cacheKiB))
            checkpointer?.watch(db)
        }
        queue = try Self.openAndMigrate(path: path, configuration: config)
        try Self.mark(marker, path: path)
        do {
            try checkpointer?.open()
        } catch {
            throw StoreError(path: path, problem: "cannot open the checkpointing connection: \(error)")
        }
        self.checkpointer = checkpointer
    }

    deinit { checkpointer?.finish() }

    /// Whether the database file is missing (true) or empty (false), or nil when it holds a store.
    /// A new store's first pages sit in the write-ahead log until a checkpoint, so an empty file
    /// beside a non-empty log is a store (the daemon and the notifier creating one together).
    static func isMissingOrEmpty(_ path: String) -> Bool? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return true }
        guard info.st_size == 0 else { return nil }
        return lstat(path + "-wal", &info) == 0 && info.st_size > 0 ? nil : false
    }

    /// Leaves the marker of a created store (once it holds its schema), durably.
    static func mark(_ marker: String, path: String) throws(StoreError) {
        var info = stat()
        guard lstat(marker, &info) != 0 else { return }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileWriting.writeSynced(
                Array("a Vigil store was created here; see the README before removing this file\n".utf8), to: marker,
                mode: 0o600)
            try HeldDirectory(directory.isEmpty ? "." : directory).sync()
        } catch  where error.errno == EEXIST {
            return  // the daemon and the notifier opened a new store together
        } catch {
            throw StoreError(path: path, problem: "cannot leave the store's marker: \(error)")
        }
    }

    /// Opens and migrates, trying again for up to 10 s while another process opens or migrates the
    /// same new store (the daemon and the notifier starting together): switching to WAL mode needs
    /// a lock that SQLite's busy timeout does not wait for, and two migrators can both find a
    /// migration missing, so one of them then sees its tables already there.
    static func openAndMigrate(path: String, configuration: Configuration) throws(StoreError) -> DatabaseQueue {
        let deadline = SystemClock.monotonicMicroseconds() + 10_000_000
        while true {
            do {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                try Schema.migrator.migrate(queue)
                return queue
            } catch let error as DatabaseError
                where Self.lostARace(error) && SystemClock.monotonicMicroseconds() < deadline
            {
                usleep(50_000)
            } catch {
                throw StoreError(path: path, problem: "cannot open or migrate: \(error)")
            }
        }
    }

    /// A failure caused by another process opening or migrating at the same moment: a table, index
    /// or column another migrator made first. (A migration that does not fail by itself when
    /// repeated, such as v5's table rebuild, fails on recording its identifier the second time: its
    /// transaction is rolled back whole.)
    static func lostARace(_ error: DatabaseError) -> Bool {
        let message = error.message ?? ""
        return error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
            || (error.resultCode == .SQLITE_ERROR
                && (message.contains("already exists") || message.contains("duplicate column name")))
            || (error.resultCode == .SQLITE_CONSTRAINT && (error.message ?? "").contains("grdb_migrations"))
    }

    /// Opens an existing database read-only (for `vigil status` while the daemon runs).
    public init(readingFrom path: String) throws(StoreError) {
        self.path = path
        self.stages = []
        self.checkpointer = nil
        queue = try Self.openReadOnly(path)
    }

    /// An existing database opened read-only; `spanningAccesses` lets one read transaction span
    /// several accesses (`StoreSnapshot`).
    static func openReadOnly(_ path: String, spanningAccesses: Bool = false) throws(StoreError) -> DatabaseQueue {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StoreError(path: path, problem: "no store here: has `vigil serve` run with this configuration?")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.allowsUnsafeTransactions = spanningAccesses
        do {
            return try DatabaseQueue(path: path, configuration: config)
        } catch {
            throw StoreError(path: path, problem: "cannot open: \(error)")
        }
    }
}

/// The store cannot be opened or written; `isTransient` when waiting (for disk space) may help.
public struct StoreError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var isTransient = false
    public var exitStatus: ExitStatus = .unavailable

    public var description: String { "store \(path): \(problem)" }

    public init(path: String, problem: String, isTransient: Bool = false, exitStatus: ExitStatus = .unavailable) {
        self.path = path
        self.problem = problem
        self.isTransient = isTransient
        self.exitStatus = exitStatus
    }
}
