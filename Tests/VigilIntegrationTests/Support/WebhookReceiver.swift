import Foundation
import Glibc
import XCTest

/// A real HTTP receiver on loopback (Support/webhook_receiver.py) that checks signatures, can
/// fail, hang, redirect, answer a huge body, trickle and recover on cue, and logs every request it
/// gets.
final class WebhookReceiver {
    let process: Process
    let port: Int
    let logPath: String
    let secretPath: String

    /// `script`: the misbehaviour of the first requests, then `defaultStep` for every later one
    /// (see the script: `500`, `hang`, `redirect302:URL`, `huge`, `trickle`, `trickle-body`).
    /// `name` tells apart the files of several receivers in one harness.
    init(
        in harness: Harness, name: String = "webhook", script: [String] = [], defaultStep: String = "200",
        hangSeconds: Double = 3, hugeBytes: Int = 1 << 30
    ) throws {
        secretPath = harness.root + "/\(name).secret"
        logPath = harness.root + "/\(name).jsonl"
        let portFile = harness.root + "/\(name).port"
        try "test-secret-\(UUID().uuidString)\n".write(toFile: secretPath, atomically: true, encoding: .utf8)
        chmod(secretPath, 0o600)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Harness.repository + "/Tests/VigilIntegrationTests/Support/webhook_receiver.py",
            "--port-file", portFile, "--log", logPath, "--secret-file", secretPath,
            "--script", script.joined(separator: ","), "--default-step", defaultStep, "--hang-seconds",
            "\(hangSeconds)", "--huge-bytes", "\(hugeBytes)",
        ]
        try process.run()
        var port = 0
        try eventually(timeout: 10, "the webhook receiver listening") {
            port = Int((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "") ?? 0
            return port > 0
        }
        self.port = port
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var url: String { "http://127.0.0.1:\(port)/hook" }

    /// Every logged line: `{"arrived": key}` on arrival, then the answered request.
    var lines: [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The answered requests.
    var answered: [[String: Any]] { lines.filter { $0["key"] != nil } }

    /// The requests that arrived (answered or not).
    var arrivals: [[String: Any]] { lines.filter { $0["arrived"] != nil } }

    /// The keys accepted (answered 2xx the first time), in order: what a de-duplicating receiver processed.
    var acceptedKeys: [String] {
        answered.filter { $0["accepted"] as? Bool == true }.compactMap { $0["key"] as? String }
    }
}
