import Logging
import PostgresNIO

extension PostgresConnection {
    /// `body` in one transaction on this connection, sending nothing on a connection already
    /// closed. PostgresNIO drops a query written to a closed connection without answering it, and
    /// its `withTransaction` sends `ROLLBACK` after any failure: after a server restart, the
    /// `ROLLBACK` that followed a lost connection was never answered, so every notifier's
    /// operation in flight waited out its whole deadline (deliveries stalled for 10 s) and its
    /// lease of the pooled connection was never given back. Here a failure on a closed connection
    /// is thrown as it is (the server rolls back what was never committed); on an open one the
    /// transaction is rolled back first.
    func transaction<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await queryIfOpen("BEGIN", logger: logger)
        do {
            let value = try await body(self)
            try await queryIfOpen("COMMIT", logger: logger)
            return value
        } catch {
            _ = try? await queryIfOpen("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// `query`, refused at once with `ConnectionClosed` on a connection already closed (where it
    /// would never be answered).
    @discardableResult
    func queryIfOpen(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw ConnectionClosed() }
        return try await self.query(query, logger: logger)
    }
}
