import Foundation
import Glibc
import XCTest

/// A throwaway PostgreSQL server for one test: Debian's server binaries (scripts/setup installs
/// `postgresql`), `initdb` into a temporary directory as an unprivileged user (`nobody` when the
/// tests run as root: PostgreSQL refuses root), listening on loopback only on a free port, with a
/// `vigil` role whose password is in a file and a `vigil` database. Stopped and removed by `stop()`.
final class PostgresServer {
    let directory: String
    let port: Int
    let bin: String
    let password: String
    /// The password, in a file of mode 0600 for `vigil store migrate --password-file`.
    let passwordFile: String
    /// Whom the server runs as (nil: this process's user).
    let runAs: String?

    /// The `vigil` database's URL (no TLS: loopback only).
    var url: String { url(database: "vigil") }

    func url(database: String) -> String { "postgres://vigil@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    /// A server for the PostgreSQL half of `suite` (whose SQLite half has run); where none can
    /// start, says loudly that this half did not run, and skips.
    static func forPostgresHalf(of suite: String, secretsIn root: String) throws -> PostgresServer {
        do {
            return try PostgresServer(passwordFileIn: root)
        } catch let skip as XCTSkip {
            print("\(skip.message ?? "SKIPPED LOUDLY"): the PostgreSQL half of \(suite) did not run")
            throw skip
        }
    }

    /// A node's vigil.yaml on this server (spool and state under the harness's root, the
    /// repository's rules), its notifier delivering every route to `receiver` and polling every `poll`.
    func configuration(receiver: WebhookReceiver, poll: String) -> String {
        """
        spool: spool
        state: state
        rules: \(Harness.repository)/Rules
        store:
          backend: postgres
          url: \(url)
          password_file: \(passwordFile)
        notifier:
          channels:
            team: {type: webhook, url: "\(receiver.url)", secret_file: \(receiver.secretPath), timeout: 2s, max_age: 1h}
          default_channel: team
          retry_initial: 200ms
          retry_longest: 1s
          lease: 5s
          poll_interval: \(poll)

        """
    }

    /// Starts the server; skips loudly where PostgreSQL is not installed or cannot start.
    init(passwordFileIn secrets: String) throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.compactMap(Int.init).max(),
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/initdb")
        else {
            throw XCTSkip(
                "SKIPPED LOUDLY: PostgreSQL's server is not installed (scripts/setup installs Debian's postgresql); the PostgreSQL store was NOT tested"
            )
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        runAs = getuid() == 0 ? "nobody" : nil
        directory = try Self.serverDirectory("vigil-pg", ownedBy: runAs)
        password = (0..<24).map { _ in String("abcdefghijkmnpqrstuvwxyz23456789".randomElement() ?? "x") }.joined()
        passwordFile = secrets + "/postgres.password"
        try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        try (password + "\n").write(toFile: directory + "/initdb.password", atomically: true, encoding: .utf8)
        port = try freeLoopbackPort()
        let initialized = try Self.run(
            as: runAs,
            [
                bin + "/initdb", "-D", directory + "/data", "-U", "vigil", "--pwfile=" + directory + "/initdb.password",
                "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
            ])
        guard initialized.status == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: initdb failed; the PostgreSQL store was NOT tested:\n\(initialized.output)")
        }
        let started = try Self.run(
            as: runAs,
            [
                bin + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o",
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off", "start",
            ])
        guard started.status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            stop()
            throw XCTSkip(
                "SKIPPED LOUDLY: PostgreSQL did not start; the PostgreSQL store was NOT tested:\n\(started.output)\n\(log)"
            )
        }
        let created = try psql("CREATE DATABASE vigil", database: "postgres")
        guard created.status == 0 else { throw HarnessError("CREATE DATABASE: \(created.output)") }
    }

    /// A streaming replica of `primary` (`pg_basebackup -R`), on a port of its own, made
    /// synchronous: from then on a commit on the primary returns only once the replica has it, the
    /// topology docs/scale-out.md prescribes. Stopped and removed by `stop()`.
    init(synchronousReplicaOf primary: PostgresServer) throws {
        bin = primary.bin
        runAs = primary.runAs
        password = primary.password
        passwordFile = primary.passwordFile
        directory = try Self.serverDirectory("vigil-pg-replica", ownedBy: runAs)
        port = try freeLoopbackPort()
        let copied = try Self.run(
            as: runAs,
            [
                "env", "PGPASSWORD=\(password)", bin + "/pg_basebackup", "-h", "127.0.0.1", "-p", "\(primary.port)",
                "-U", "vigil", "-D", directory + "/data", "-R", "-X", "stream", "--no-sync", "--checkpoint=fast",
            ])
        guard copied.status == 0 else { throw HarnessError("pg_basebackup: \(copied.output)") }
        let started = try Self.run(
            as: runAs,
            [
                bin + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o",
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off", "start",
            ])
        guard started.status == 0 else { throw HarnessError("the replica did not start: \(started.output)") }
        for sql in ["ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"] {
            let done = try primary.psql(sql, database: "postgres")
            guard done.status == 0 else { throw HarnessError("\(sql): \(done.output)") }
        }
        try eventually(timeout: 30, "the replica streaming synchronously") {
            try primary.psql("SELECT sync_state FROM pg_stat_replication", database: "postgres").output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "sync"
        }
    }

    /// Makes this replica the primary (`pg_ctl promote`), as a failover does.
    func promote() throws {
        let promoted = try Self.run(
            as: runAs, [bin + "/pg_ctl", "-D", directory + "/data", "-w", "-t", "60", "promote"])
        guard promoted.status == 0 else { throw HarnessError("pg_ctl promote: \(promoted.output)") }
    }

    /// Runs `sql` with psql as `vigil` (unaligned, tuples only).
    @discardableResult
    func psql(_ sql: String, database: String = "vigil") throws -> (status: Int32, output: String) {
        try runCommand(
            [
                bin + "/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U",
                "vigil", "-d", database, "-c", sql,
            ], environment: ["PGPASSWORD": password])
    }

    /// The single value `sql` selects (fails the test on an error).
    func value(_ sql: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try psql(sql)
        XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Restarts the server at once, as after a crash (`pg_ctl restart -m immediate`): every
    /// connection is dropped and the server comes back on the same port.
    func restart() throws {
        let restarted = try Self.run(
            as: runAs,
            [
                bin + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-m",
                "immediate", "restart",
            ])
        guard restarted.status == 0 else { throw HarnessError("pg_ctl restart: \(restarted.output)") }
    }

    /// Stops the server at once and removes its directory.
    func stop() {
        _ = try? Self.run(as: runAs, [bin + "/pg_ctl", "-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A new temporary directory (mode 0700) for a server, owned by the user it runs as.
    static func serverDirectory(_ prefix: String, ownedBy user: String?) throws -> String {
        var buffer = Array((NSTemporaryDirectory() + prefix + "-XXXXXX").utf8CString)
        guard mkdtemp(&buffer) != nil else { throw HarnessError("mkdtemp failed") }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let user {
            let chowned = try runCommand(["chown", user, directory])
            guard chowned.status == 0 else { throw HarnessError("chown \(directory): \(chowned.output)") }
        }
        return directory
    }

    /// Runs a PostgreSQL program as `user`, through python's subprocess, which closes every
    /// descriptor but 0-2 in the child: the server `pg_ctl start` leaves running must not inherit
    /// the one by which Foundation's `Process` learns that its child ended (it never would).
    static func run(as user: String?, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let command = user.map { ["runuser", "-u", $0, "--"] + arguments } ?? arguments
        return try runCommand(
            ["python3", "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"] + command)
    }
}
