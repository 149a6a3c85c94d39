import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import VigilCore
import VigilShell

/// What `vigil api` serves, behind its routes (`APIRoutes`) and page (`WorklistPage`): a writer
/// into the spool (through `Submission`, the same validation and fsync-and-rename as `vigil
/// submit`, answering only after the rename) and a reader of the store. It never writes the store:
/// every change is an event the daemon applies.
final class FrontDoor: Sendable {
    let config: VigilConfig
    let api: APIConfig
    let submission: Submission
    let gate: Gate
    let links: ActionLinks?
    let clock: any WallClock
    let logger: Logger
    /// Links used through this process, so a second use answers 410 before the daemon has stored the
    /// first (the store's event id makes it act once either way).
    private let usedLinks = NIOLockedValueBox<Set<String>>([])
    /// Opens the configured store's views (SQLite or PostgreSQL).
    let openStore: StoreViewsOpening.Opener
    /// The store, opened on first need (before the daemon's first start there may be none).
    private let store = NIOLockedValueBox<(any StoreViews)?>(nil)
    /// Where the store is read: never on one of Swift's cooperative threads, which a slow or hung
    /// store would hold, and with them the requests that only write to the spool. One read at a time.
    private let reads = DispatchQueue(label: "vigil-api.store-reads")
    /// Reads queued or running on `reads`: past `readsWaitingAtMost`, a view answers 503 at once, so
    /// a store that hangs does not pile up every request (each read is bounded, 20 s on PostgreSQL).
    private let readsWaiting = NIOLockedValueBox(0)
    static let readsWaitingAtMost = 16
    /// The store's outage as the views meet it: logged when it starts and when it ends, not per request.
    private let outage = NIOLockedValueBox(OutageLatch<String>())

    init(
        config: VigilConfig, api: APIConfig, vocabulary: Vocabulary, openStore: @escaping StoreViewsOpening.Opener,
        clock: any WallClock, logger: Logger
    ) {
        self.config = config
        self.api = api
        self.openStore = openStore
        self.submission = Submission(spool: SpoolDirectory(root: config.spool), vocabulary: vocabulary)
        self.gate = Gate(tokensPath: api.tokensFile, ratePerMinute: api.ratePerMinute)
        self.links = api.links
        self.clock = clock
        self.logger = logger
    }

    /// The longest request body other than a batch of check-ins.
    static let smallBody = 16 * 1024

    // MARK: - The store

    /// The store for reading, opened now if it is not yet, or 503.
    private func reader() throws -> any StoreViews {
        do {
            return try store.withLockedValue { store in
                if let store { return store }
                let opened = try openStore()
                store = opened
                return opened
            }
        } catch {
            failed(error)
            throw APIError(
                status: .serviceUnavailable, message: "the store cannot be read yet: is vigil serve running?")
        }
    }

    /// Runs a read of the store on the reads' queue; a failure is a 503 naming no path.
    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreViews) throws(StoreError) -> T) async throws -> T {
        let admitted = readsWaiting.withLockedValue { waiting in
            guard waiting < Self.readsWaitingAtMost else { return false }
            waiting += 1
            return true
        }
        guard admitted else {
            throw APIError(status: .serviceUnavailable, message: "the store is slow to answer: try again")
        }
        return try await withCheckedThrowingContinuation { continuation in
            reads.async {
                defer { self.readsWaiting.withLockedValue { $0 -= 1 } }
                continuation.resume(
                    with: Result {
                        let store = try self.reader()
                        do {
                            let result = try body(store)
                            if let previous = self.outage.withLockedValue({ $0.recover() }) {
                                self.logger.log(
                                    .notice, .storeRecovered, "the store can be read again",
                                    ["previous_error": "\(previous)"])
                            }
                            return result
                        } catch {
                            self.failed(error)
                            throw APIError(status: .serviceUnavailable, message: "the store cannot be read")
                        }
                    })
            }
        }
    }

    /// Logs the store's failure once per outage.
    private func failed(_ error: any Error) {
        guard outage.withLockedValue({ $0.fail("\(error)") }) else { return }
        logger.log(
            .error, .storeUnavailable, "the store cannot be read; views answer 503 until it can",
            ["error": "\(error)"])
    }

    // MARK: - Changes, as events

    /// Hands check-ins (one JSON object, or NDJSON) to the daemon; their ids.
    func submit(_ bytes: [UInt8], batch: Bool, by identity: Identity) throws -> [String] {
        do {
            let ids = try submission.submit(bytes, batch: batch, now: clock.now())
            logger.log(
                .info, .apiCheckInsAccepted, "check-ins handed to the daemon",
                ["by": "\(identity.name)", "count": "\(ids.count)"])
            return ids
        } catch {
            throw refusal(error)
        }
    }

    /// Hands a person's act on a task to the daemon, after checking the task exists and can still
    /// be acted on; the event id.
    func act(
        _ request: TaskActionRequest, on taskID: String, by who: String, note: String? = nil, eventID: String? = nil
    ) async throws -> String {
        guard let task = try await read({ store throws(StoreError) in try store.task(taskID) }) else {
            throw APIError(status: .notFound, message: "no task \(taskID)")
        }
        let actionable = request == .take ? task.state.isOpen : task.state.isOpen || task.state == .dead
        guard actionable else {
            throw APIError(
                status: .conflict, message: "task \(taskID) is \(task.state.rawValue): nothing to \(request.name)")
        }
        do {
            let event = try submission.act(
                request, task: taskID, kind: task.kind, client: task.client, by: who, note: note, id: eventID,
                now: clock.now())
            logger.log(
                .info, .apiCheckInsAccepted, "\(request.name) on a task handed to the daemon",
                ["by": "\(who)", "task": "\(taskID)", "event": "\(event)"])
            return event
        } catch {
            throw refusal(error)
        }
    }

    /// Acts through an alert's link, once: 403 for a forged or expired link, 410 for one used.
    func act(throughLink token: String) async throws -> (ActionLinks.Link, String) {
        let link = try await verify(link: token)
        let event = try await act(link.action, on: link.task, by: link.identity, eventID: link.eventID)
        usedLinks.withLockedValue { _ = $0.insert(link.eventID) }
        return (link, event)
    }

    /// The link `token` names, if it is genuine, unexpired and unused.
    func verify(link token: String) async throws -> ActionLinks.Link {
        guard let links else { throw APIError(status: .notFound, message: "action links are not configured") }
        let link: ActionLinks.Link
        do {
            link = try links.verify(token, now: clock.now())
        } catch {
            logger.log(.warning, .apiRequestRefused, "an action link was refused", ["reason": "\(error)"])
            throw APIError(
                status: .forbidden, message: error == .expired ? "this link has expired" : "this is not a valid link")
        }
        let (eventID, task) = (link.eventID, link.task)
        let used =
            usedLinks.withLockedValue { $0.contains(eventID) }
            ? true : try await read { store throws(StoreError) in try store.hasEvent(eventID, ofClientOfTask: task) }
        guard !used else { throw APIError(status: .gone, message: "this link has been used") }
        return link
    }

    private func refusal(_ error: SubmissionError) -> APIError {
        switch error {
        case .invalid(let reasons):
            return APIError(
                status: .unprocessableContent, message: "invalid check-in: nothing was handed over",
                errors: reasons.map(\.description))
        case .spool(let failure):
            logger.log(.critical, .spoolUnwritable, "the API cannot write to the spool", ["error": "\(failure)"])
            return APIError(status: .serviceUnavailable, message: "the spool cannot be written: try again")
        }
    }
}
