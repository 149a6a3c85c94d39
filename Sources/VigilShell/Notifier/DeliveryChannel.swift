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

    /// Posts and classifies the answer; gives up at the timeout even when the server trickles bytes
    /// (URLSession's own timeout is one of inactivity).
    func send(_ url: URL, body: Data, headers: [String: String]) async -> DeliveryOutcome {
        let expired = DeliveryOutcome.retry("\(url.host ?? ""): no answer within \(timeout.compact)")
        let first = FirstOutcome()
        let timeout = self.timeout
        return await withCheckedContinuation { continuation in
            first.set(continuation)
            // The request is never cancelled: cancelling a URLSession task from Swift concurrency can
            // deadlock in swift-corelibs-foundation (the session's queue resumes the task while the
            // canceller holds its status lock and waits for that queue). At the deadline the
            // delivery counts as timed out; the request ends by itself (its inactivity timeout).
            Task {
                let outcome = await Self.post(url, body: body, headers: headers, timeout: timeout, expired: expired)
                if first.resume(with: outcome) { first.timer?.cancel() }
            }
            first.timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(timeout.microseconds) * 1000)
                if !Task.isCancelled { first.resume(with: expired) }
            }
        }
    }

    static func post(_ url: URL, body: Data, headers: [String: String], timeout: TimeSpan, expired: DeliveryOutcome)
        async -> DeliveryOutcome
    {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.timeoutInterval = Double(timeout.microseconds) / 1e6
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("vigil-notifier", forHTTPHeaderField: "User-Agent")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let host = url.host ?? ""
        do {
            let (_, response) = try await session.data(for: request)
            guard let status = (response as? HTTPURLResponse)?.statusCode else { return .retry("no HTTP response") }
            switch status {
            case 200..<300: return .delivered
            case 408, 429, 500..<600: return .retry("HTTP \(status) from \(host)")
            default: return .failed("HTTP \(status) from \(host)")
            }
        } catch let error as URLError where error.code == .timedOut {
            return expired
        } catch {
            return .retry("\(host): \(error.localizedDescription)")
        }
    }

    /// One session for the process: connections to a receiver are reused.
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = Notifier.concurrency
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }()
}

/// Resumes a continuation once, with whichever outcome comes first (the answer or the deadline).
final class FirstOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<DeliveryOutcome, Never>?
    private var deadline: Task<Void, Never>?

    /// The deadline's task, cancelled when the answer comes first.
    var timer: Task<Void, Never>? {
        get { lock.withLock { deadline } }
        set { lock.withLock { deadline = newValue } }
    }

    func set(_ continuation: CheckedContinuation<DeliveryOutcome, Never>) {
        lock.withLock { self.continuation = continuation }
    }

    /// True when this call resumed it.
    @discardableResult
    func resume(with outcome: DeliveryOutcome) -> Bool {
        let waiting: CheckedContinuation<DeliveryOutcome, Never>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(returning: outcome)
        return waiting != nil
    }
}
