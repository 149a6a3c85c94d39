import Crypto
import Foundation
import VigilCore

/// One-click actions from an alert: a link per action that names only the task, the action and
/// when it expires, signed with HMAC-SHA-256 under the `link_secret_file` key. The notifier puts
/// them in webhook payloads, Alertmanager annotations, exec stdin and the journal; `vigil api`
/// checks them. A link is the same for every delivery of a task (it expires `ttl` after the task's
/// delivery time), so a redelivery is byte-identical; it acts once: the event it becomes has an id
/// made from the task and the action (`eventID`), which the store keeps once.
public struct ActionLinks: Sendable {
    /// Where the API is reached (no trailing slash).
    public let baseURL: String
    /// The HMAC key's bytes (`SymmetricKey` is not `Sendable`; one is made per signature).
    let secret: [UInt8]
    public let ttl: TimeSpan

    /// The actions an alert offers: "I'm on it", "reached", "no answer".
    public static let offered: [TaskActionRequest] = [.take, .contact(.reached), .contact(.noAnswer)]

    public init(baseURL: String, secret: [UInt8], ttl: TimeSpan) {
        self.baseURL = baseURL
        self.secret = secret
        self.ttl = ttl
    }

    /// What a link says, once its signature holds.
    public struct Link: Sendable, Equatable {
        public var task: String
        public var action: TaskActionRequest
        public var expires: Timestamp

        /// The id of the event the link becomes: the same for every use, so it acts once.
        public var eventID: String { "link-\(task)-\(action.name)" }
        /// Who acts through it.
        public var identity: String { "link:\(task)" }
    }

    /// Why a link is refused.
    public enum Refusal: Error, Sendable, Equatable {
        /// Not a link this key signed (a changed byte, another key, garbage).
        case forged
        /// Signed, but past its expiry.
        case expired
    }

    /// The link's token: `base64url(TASK|ACTION|EXPIRY).base64url(HMAC)`.
    public func token(task: String, action: TaskActionRequest, expires: Timestamp) -> String {
        let payload = "\(task)|\(action.name)|\(expires.microseconds / 1_000_000)"
        return Self.base64URL(Array(payload.utf8)) + "." + Self.base64URL(mac(payload))
    }

    /// The links of a task: action name → URL.
    public func urls(task: String, deliverAt: Timestamp) -> [String: String] {
        let expires = deliverAt.adding(ttl)
        var urls: [String: String] = [:]
        for action in Self.offered {
            urls[action.name] = "\(baseURL)/v1/links/\(token(task: task, action: action, expires: expires))"
        }
        return urls
    }

    /// The link `token` names, if its signature holds and it has not expired at `now`.
    public func verify(_ token: String, now: Timestamp) throws(Refusal) -> Link {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payloadBytes = Self.unbase64URL(parts[0]),
            let signature = Self.unbase64URL(parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(
                signature, authenticating: Self.domain + payloadBytes,
                using: SymmetricKey(data: secret))
        else { throw .forged }
        let fields = String(decoding: payloadBytes, as: UTF8.self).split(
            separator: "|", omittingEmptySubsequences: false)
        guard fields.count == 3, let action = TaskActionRequest(name: String(fields[1])),
            let seconds = Int64(fields[2])
        else { throw .forged }
        let link = Link(task: String(fields[0]), action: action, expires: Timestamp(seconds: seconds))
        guard now < link.expires else { throw .expired }
        return link
    }

    /// Signatures are over this prefix and the payload, so no other HMAC under the same key
    /// (a webhook's) can pass for a link's.
    static let domain = Array("vigil-link-v1|".utf8)

    func mac(_ payload: String) -> [UInt8] {
        Array(
            HMAC<SHA256>.authenticationCode(for: Self.domain + Array(payload.utf8), using: SymmetricKey(data: secret)))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func unbase64URL(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count <= 1024 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
