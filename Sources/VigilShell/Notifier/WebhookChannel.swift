import Crypto
import Foundation
import VigilCore

/// `type: webhook`: an HTTP(S) POST of the task's JSON payload, with
/// - `Idempotency-Key`: the task id (a redelivery after a lost answer carries the same key);
/// - `X-Vigil-Signature: sha256=HEX`: HMAC-SHA256 of the body under the channel's secret.
/// A delivered task's end is announced with `"status": "resolved"` under the key `ID:resolved`.
struct WebhookChannel: DeliveryChannel {
    let url: URL
    let secret: [UInt8]
    let post: HTTPPost

    static let signatureHeader = "X-Vigil-Signature"

    func deliver(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        await send(task.payload(status: "firing"), key: task.id)
    }

    func announceEnd(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        var payload = task.payload(status: "resolved")
        payload.state = task.state.rawValue
        payload.ended = task.resolvedAt ?? now
        return await send(payload, key: task.id + ":resolved")
    }

    private func send(_ payload: TaskPayload, key: String) async -> DeliveryOutcome {
        let body = JSONOutput.data(payload)
        let signature = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
        let hex = signature.map { String(format: "%02x", $0) }.joined()
        return await post.send(
            url, body: body, headers: ["Idempotency-Key": key, Self.signatureHeader: "sha256=" + hex])
    }
}
