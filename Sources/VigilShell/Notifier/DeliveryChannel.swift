import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VigilCore

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

/// One HTTP POST with a deadline, classified the way every HTTP channel retries: 2xx delivered;
/// 408, 429, 5xx and transport errors (refused, timed out) retried; any other status failed.
///
/// Hostile receivers (issue 12):
/// - A redirect (any 3xx) is not followed (the client disallows redirects) and not delivered: it
///   is `.failed`, naming the `Location` it gave, escaped. Following it would send the signed
///   payload to a host nobody configured, or (302/303) lose the body, and count that as delivery.
///   Failed rather than retried, also for a temporary 302/307: a moved receiver is a configuration
///   error that retries until `max_age` (an hour) would only hide, and a dead escalation goes to
///   the fallback channel at once.
/// - The whole request has one deadline, the channel's timeout, enforced by the client up to the
///   response head (connecting, waiting in the pool, sending, a receiver trickling its status line
///   or headers: `HTTPClientError.deadlineExceeded`, retried). AsyncHTTPClient's deadline ends
///   when the head arrives, so the body is read under the same deadline by `drain`.
/// - The body is read at most `bodyLimit` bytes, then dropped: dropping the stream cancels the
///   request and closes the connection, so a 3 GB answer costs one 64 KiB read. The outcome is the
///   status's: a 2xx whose body is huge or trickles still counts as delivered (the receiver took
///   the payload when it answered 2xx); reading a small body to its end only lets the connection be
///   reused.
///
/// Public so that what measures deliveries (`vigil bench e2e`'s floor) sends exactly as they do.
public struct HTTPPost: Sendable {
    let timeout: TimeSpan
    let client: HTTPClient

    /// Posts through `client` (see `notifierClient`), each request bounded by `timeout`.
    public init(timeout: TimeSpan, client: HTTPClient) {
        self.timeout = timeout
        self.client = client
    }

    /// A client set up as the notifier's own (`makeClient` with its per-receiver limit).
    public static func notifierClient(connect: TimeSpan) -> HTTPClient {
        makeClient(connect: connect, perHost: Notifier.perReceiver)
    }

    /// The most of a response body read; the rest is never received.
    static let bodyLimit = 64 * 1024

    /// Posts and classifies the answer; returns by the deadline whatever the receiver does.
    public func send(_ url: URL, body: Data, headers: [String: String]) async -> DeliveryOutcome {
        let host = url.host ?? ""
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        request.headers.replaceOrAdd(name: "User-Agent", value: "vigil-notifier")
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = NIODeadline.now() + .microseconds(timeout.microseconds)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: deadline)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            return .retry("\(host): no answer within \(timeout.compact)")
        } catch {
            return .retry("\(host): \(error)")
        }
        let outcome = Self.classify(
            status: response.status.code, location: response.headers.first(name: "Location"), host: host)
        await Self.drain(response.body, until: deadline)
        return outcome
    }

    /// The outcome of an answer with `status` (and the `Location` header of a redirect).
    static func classify(status: UInt, location: String?, host: String) -> DeliveryOutcome {
        switch status {
        case 200..<300: return .delivered
        case 300..<400:
            // Outside text: escaped (no control character reaches a log line) and shortened.
            let target = location.map { "to \"\(LogText.escaped($0, limit: 200))\"" } ?? "without a Location"
            return .failed("HTTP \(status) from \(host): redirect \(target) not followed")
        case 408, 429, 500..<600: return .retry("HTTP \(status) from \(host)")
        default: return .failed("HTTP \(status) from \(host)")
        }
    }

    /// Reads `body` until its end, `bodyLimit` bytes or `deadline`, whichever comes first, and drops
    /// it: a body stream dropped or cancelled before its end cancels the request and closes the
    /// connection (AsyncHTTPClient's `didTerminate`), so nothing more is received or kept.
    static func drain(_ body: HTTPClientResponse.Body, until deadline: NIODeadline) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var read = 0
                do {
                    for try await chunk in body {
                        read += chunk.readableBytes
                        if read > bodyLimit { return }
                    }
                } catch {
                    // Cut off (the deadline) or a transport error: the status decided already.
                }
            }
            group.addTask {
                let left = (deadline - .now()).nanoseconds
                if left > 0 { try? await Task.sleep(nanoseconds: UInt64(left)) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// The notifier's one HTTP client (connections to a receiver are reused across channels):
    /// redirects disallowed, no decompression (a compressed answer is never inflated), at most
    /// `perHost` connections to one scheme, host and port, and a connection attempt given up after
    /// `connect` (the longest channel timeout: each request's own deadline is what bounds a
    /// delivery; this bounds the pool's attempts made for it). A failed connection fails its
    /// request at once rather than being retried by the pool until the deadline: the notifier
    /// retries with its own backoff, and a receiver that is down does not hold slots meanwhile.
    static func makeClient(connect: TimeSpan, perHost: Int) -> HTTPClient {
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = perHost
        pool.retryConnectionEstablishment = false
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .microseconds(connect.microseconds)),
            connectionPool: pool, decompression: .disabled)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}
