import Foundation
import Logging
import NIOSSL
import PostgresNIO
import VigilShell

/// Where a PostgreSQL store is and how to log in: `postgres://USER@HOST[:PORT]/DATABASE`, with
/// `?sslmode=disable` (loopback or a socket only) or `require` (the default), and the password in
/// a file of its own (mode 0600 or 0640), never in the URL: a URL is printed, logged and kept in
/// shell history.
public struct PostgresTarget: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var requireTLS: Bool
    var password: String?

    /// The URL without a password (there never is one).
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)\(requireTLS ? "" : "?sslmode=disable")"
    }

    /// Parses `url` and reads `passwordFile` (nil: log in without a password, as with a trust or
    /// peer rule in pg_hba.conf); every problem is named.
    public init(url: String, passwordFile: String?) throws(PostgresError) {
        var problems: [String] = []
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? "") else {
            throw PostgresError(
                target: url, problem: "not a PostgreSQL URL: expected postgres://USER@HOST[:PORT]/DATABASE",
                exitStatus: .config)
        }
        if parts.password != nil {
            problems.append(
                "the URL holds a password: remove it and give the password in a file (--password-file), never inline")
        }
        host = parts.host ?? ""
        if host.isEmpty { problems.append("no host") }
        port = parts.port ?? 5432
        user = parts.user ?? ""
        if user.isEmpty { problems.append("no user (postgres://USER@HOST/DATABASE)") }
        database = String(parts.path.drop { $0 == "/" })
        if database.isEmpty || database.contains("/") { problems.append("no database (postgres://USER@HOST/DATABASE)") }
        requireTLS = true
        for item in parts.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", "disable"): requireTLS = false
            case ("sslmode", "require"): requireTLS = true
            case ("sslmode", let value):
                problems.append("sslmode '\(value ?? "")' is not supported: disable or require")
            default: problems.append("unknown parameter '\(item.name)' (only sslmode)")
            }
        }
        if let passwordFile {
            switch SecretFile.read(passwordFile) {
            case .success(let bytes): password = String(decoding: bytes, as: UTF8.self)
            case .failure(let problem): problems.append("password file: \(problem)")
            }
        }
        guard problems.isEmpty else {
            let shown = parts.password == nil ? url : "postgres://\(user)@\(host)/\(database)"
            throw PostgresError(target: shown, problem: problems.joined(separator: "; "), exitStatus: .config)
        }
    }

    /// A connection pool's configuration: the same login and TLS as `connect`.
    public var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// A connection's configuration: connect within 10 s, TLS verified against the system's roots
    /// when required.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// Connects (see `connectionConfiguration`).
    public func connect(logger: Logger) async throws(PostgresError) -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(
                configuration: try connectionConfiguration(), id: 1, logger: logger)
        } catch {
            throw PostgresError(target: description, problem: "cannot connect: \(PostgresError.explain(error))")
        }
    }
}

/// A PostgreSQL store that cannot be reached, logged into or written, with the server's own words.
public struct PostgresError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let target: String
    public let problem: String
    public var exitStatus: ExitStatus = .unavailable

    public var description: String { "store \(target): \(problem)" }

    /// `error` as a PostgresError about `target`: itself (as a transaction's body threw it), or the
    /// server's explanation of what failed while `doing`.
    public static func wrap(_ error: any Error, target: PostgresTarget, doing: String) -> PostgresError {
        if let error = error as? PostgresError { return error }
        return PostgresError(target: target.description, problem: "\(doing): \(explain(error))")
    }

    /// A failure while `doing` as a `StoreError`: transient unless the server refused the statement
    /// itself.
    public static func storeError(_ error: any Error, target: PostgresTarget, doing: String) -> StoreError {
        if let error = error as? StoreError { return error }
        var transient = true
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            // Connection exceptions, operator intervention (shutdown, a statement timeout),
            // insufficient resources, transaction rollbacks (serialization, deadlock) and a lock
            // not granted in time may clear; anything else will not.
            transient =
                ["08", "57", "53", "40"].contains(String(state.prefix(2))) || state == "55P03"
                || state == "25P03"
        }
        return StoreError(
            path: target.description, problem: "\(doing): \(explain(error))", isTransient: transient)
    }

    /// The server's message and SQLSTATE, or the connection's failure (postgres-nio's own
    /// description of an error hides both).
    public static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
        }
        return [error.code.description, error.underlying.map { "\($0)" }].compactMap { $0 }.joined(separator: ": ")
    }
}
