import Foundation
import XCTest

/// `vigil api` beside the daemon on a harness, with a configuration of its own (ports on loopback,
/// action links, optionally a webhook channel), and a curl-based client.
final class APIHarness {
    let harness: Harness
    let port: Int
    let metricsPort: Int
    var base: String { "http://127.0.0.1:\(port)" }

    /// `ratePerMinute`: each token's limit. `webhook`: the notifier's channel for every task.
    init(ratePerMinute: Int = 10_000, webhook: WebhookReceiver? = nil, harness: Harness? = nil) throws {
        let harness = try harness ?? Harness()
        self.harness = harness
        port = try freeLoopbackPort()
        metricsPort = try freeLoopbackPort()
        let secret = harness.root + "/link.secret"
        try "link-secret-\(UUID().uuidString)\n".write(toFile: secret, atomically: true, encoding: .utf8)
        chmod(secret, 0o600)
        var config = """
            spool: spool
            state: state
            rules: \(Harness.repository)/Rules
            api:
              listen: 127.0.0.1:\(port)
              metrics_listen: 127.0.0.1:\(metricsPort)
              public_url: http://127.0.0.1:\(port)
              link_secret_file: link.secret
              rate_per_minute: \(ratePerMinute)

            """
        if let webhook {
            config += """
                notifier:
                  channels:
                    team: {type: webhook, url: "\(webhook.url)", secret_file: \(webhook.secretPath), timeout: 5s}
                  default_channel: team

                """
        }
        try config.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
    }

    /// Starts `vigil api` and waits until /healthz answers.
    func start() throws -> Harness.Daemon {
        let api = try harness.start(["api"], log: "api.log")
        try eventually(timeout: 20, "vigil api answering /healthz; its log:\n\(api.log)") {
            (try? self.request("GET", "/healthz").status) == 200
        }
        return api
    }

    /// Adds a token with `scopes` (comma-separated) and returns it.
    func token(_ name: String, scopes: String) throws -> String {
        let result = try harness.run(["api", "token", "add", name, "--scopes", scopes])
        guard result.status == 0 else { throw HarnessError("token add: \(result)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Answer: CustomStringConvertible {
        /// The HTTP status, 0 when no answer came (connection refused or reset).
        let status: Int
        let body: String
        let headers: String
        var description: String { "\(status) \(body)" }
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        }
    }

    private var sequence = 0

    /// One request with curl (redirects not followed); `path` may be a whole URL.
    func request(
        _ method: String, _ path: String, token: String? = nil, body: [UInt8]? = nil,
        contentType: String = "application/json", headers extra: [String] = [], port: Int? = nil
    ) throws -> Answer {
        sequence += 1
        let stem = harness.root + "/curl-\(sequence)"
        let url = path.hasPrefix("http") ? path : "http://127.0.0.1:\(port ?? self.port)\(path)"
        var arguments = [
            "curl", "-s", "-X", method, "--max-time", "10", "-D", stem + ".headers", "-o", stem + ".body", "-w",
            "%{http_code}",
        ]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        for header in extra { arguments += ["-H", header] }
        if let body {
            _ = FileManager.default.createFile(atPath: stem + ".in", contents: Data(body))
            arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", "@" + stem + ".in"]
        }
        arguments.append(url)
        let (_, output) = try runCommand(arguments)
        defer {
            for suffix in [".headers", ".body", ".in"] { try? FileManager.default.removeItem(atPath: stem + suffix) }
        }
        return Answer(
            status: Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
            body: (try? String(contentsOfFile: stem + ".body", encoding: .utf8)) ?? "",
            headers: (try? String(contentsOfFile: stem + ".headers", encoding: .utf8)) ?? "")
    }

    func post(_ path: String, token: String?, json: String) throws -> Answer {
        try request("POST", path, token: token, body: Array(json.utf8))
    }
}
