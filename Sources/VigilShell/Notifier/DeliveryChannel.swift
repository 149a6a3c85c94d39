import Foundation
import VigilCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What one delivery attempt came to.
public enum DeliveryOutcome: Equatable, Sendable {
    case delivered
    /// Worth trying again (a timeout, a 5xx, 408, 429, EX_TEMPFAIL), with what went wrong.
    case retry(String)
    /// Trying again will not help (a 4xx, a command's failure): the task is dead at once.
    case failed(String)
}

/// A team channel the notifier delivers tasks to (a webhook, Alertmanager, a command, the journal).
public protocol DeliveryChannel: Sendable {
    /// Delivers one task. Must finish within the channel's timeout.
    func deliver(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome
    /// Tells the channel that a delivered task ended (resolved or cancelled) at `now`.
    func announceEnd(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome
    /// How often a delivered task must be re-sent to stay active there (nil: never).
    var renewal: TimeSpan? { get }
}

extension DeliveryChannel {
    public func announceEnd(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome { .delivered }
    public var renewal: TimeSpan? { nil }
}

/// One HTTP POST with a timeout, classified the way every HTTP channel retries: 2xx delivered;
/// 408, 429, 5xx and transport errors (refused, timed out) retried; any other status failed.
struct HTTPPost: Sendable {
    let timeout: TimeSpan

    func send(_ url: URL, body: Data, headers: [String: String]) async -> DeliveryOutcome {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.timeoutInterval = Double(timeout.microseconds) / 1e6
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("vigil-notifier", forHTTPHeaderField: "User-Agent")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        do {
            let (_, response) = try await Self.session.data(for: request)
            guard let status = (response as? HTTPURLResponse)?.statusCode else { return .retry("no HTTP response") }
            switch status {
            case 200..<300: return .delivered
            case 408, 429, 500..<600: return .retry("HTTP \(status) from \(url.host ?? "")")
            default: return .failed("HTTP \(status) from \(url.host ?? "")")
            }
        } catch let error as URLError where error.code == .timedOut {
            return .retry("\(url.host ?? ""): no answer within \(timeout.compact)")
        } catch {
            return .retry("\(url.host ?? ""): \(error.localizedDescription)")
        }
    }

    /// One session for the process: connections to a receiver are reused.
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 8
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }()
}
