/// Counts of what ingestion did, for STATUS=, logs and benchmarks.
public struct IngestTally: Equatable, Sendable {
    /// Check-ins newly committed.
    public var stored = 0
    /// Check-ins already in the store with the same content (replays after a crash, resubmissions).
    public var duplicates = 0
    /// Files moved whole to `rejected/`.
    public var rejectedFiles = 0
    /// Lines of batches moved to `rejected/`.
    public var rejectedLines = 0
    /// Spool files fully handled (unlinked or moved aside).
    public var filesDone = 0

    public init() {}

    public static func += (lhs: inout IngestTally, rhs: IngestTally) {
        lhs.stored += rhs.stored
        lhs.duplicates += rhs.duplicates
        lhs.rejectedFiles += rhs.rejectedFiles
        lhs.rejectedLines += rhs.rejectedLines
        lhs.filesDone += rhs.filesDone
    }
}
