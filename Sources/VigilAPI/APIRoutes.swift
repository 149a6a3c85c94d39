import Foundation
import Hummingbird
import NIOCore
import VigilCore
import VigilShell

/// The JSON API under `/v1` (documented in `docs/api.yaml`), `/healthz`, and the action links.
enum APIRoutes {
    static func add(to router: Router<BasicRequestContext>, door: FrontDoor) {
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        let v1 = router.group("v1")
        v1.post("checkins") { request, _ in
            let identity = try door.gate.admit(request, scope: .submit)
            let type = request.headers[.contentType] ?? ""
            let batch = type.contains("ndjson") || type.contains("jsonl")
            let limit = batch ? SpoolReader.maxBatchBytes : CheckInDecoder.maxEventBytes
            let bytes = try await body(of: request, upTo: limit)
            let ids = try door.submit(bytes, batch: batch, by: identity)
            return JSONBody(status: .accepted, value: Accepted(ids: ids))
        }
        v1.get("worklist") { request, _ in
            _ = try door.gate.admit(request, scope: .read)
            let query = request.uri.queryParameters
            var filter = WorklistFilter()
            filter.route = query["route"].map(String.init) ?? query["role"].map(String.init)
            if let due = query["due_before"] {
                guard let time = try? RFC3339.parse(String(due)) else {
                    throw APIError(status: .badRequest, message: "due_before: not an RFC 3339 time")
                }
                filter.dueBefore = time
            }
            let now = door.clock.now()
            let tasks = try await door.read { [filter] store throws(StoreError) in try store.worklist(filter, at: now) }
            return JSONBody(value: Worklist(asOf: now.description, tasks: tasks))
        }
        v1.get("clients") { request, _ in
            _ = try door.gate.admit(request, scope: .read)
            let query = request.uri.queryParameters
            var minimum = Tier.low
            if let text = query["tier"] {
                guard let tier = Tier(rawValue: String(text)) else {
                    throw APIError(status: .badRequest, message: "tier: one of low, moderate, high, imminent")
                }
                minimum = tier
            }
            let watch = query["watch"].map { $0 == "true" || $0 == "1" } ?? false
            let now = door.clock.now()
            let clients = try await door.read { [minimum] store throws(StoreError) in
                try store.caseload(at: now, minimum: minimum, watchOnly: watch)
            }
            return JSONBody(value: Caseload(asOf: now.description, clients: clients))
        }
        v1.get("clients/:id") { request, context in
            _ = try door.gate.admit(request, scope: .read)
            let id = try context.parameters.require("id")
            let now = door.clock.now()
            guard
                let report = try await door.read({ store throws(StoreError) in
                    try store.clientReport(client: id, at: now)
                })
            else { throw APIError(status: .notFound, message: "no client \(id)") }
            return JSONBody(value: report)
        }
        for action in ["take", "ack", "contact"] {
            v1.post("tasks/:id/\(action)") { request, context in
                let identity = try door.gate.admit(request, scope: .act)
                let task = try context.parameters.require("id")
                let input = try await decode(ActionInput.self, from: request)
                var request: TaskActionRequest = action == "take" ? .take : .ack
                if action == "contact" {
                    guard let name = input.outcome, let outcome = CheckIn.Contact.Outcome(rawValue: name) else {
                        let outcomes = CheckIn.Contact.Outcome.allCases.map(\.rawValue).joined(separator: ", ")
                        throw APIError(status: .unprocessableContent, message: "outcome: required, one of \(outcomes)")
                    }
                    request = .contact(outcome)
                }
                let event = try await door.act(
                    request, on: task, by: identity.name, note: input.note, eventID: input.id)
                return JSONBody(status: .accepted, value: Acted(task: task, action: request.name, event: event))
            }
        }
        v1.get("links/:token") { _, context in
            let link = try await door.verify(link: try context.parameters.require("token"))
            return LinkPage.confirmation(link)
        }
        v1.post("links/:token") { _, context in
            let (link, _) = try await door.act(throughLink: try context.parameters.require("token"))
            return LinkPage.done(link)
        }
    }

    /// The request's body, at most `limit` bytes (413 beyond).
    static func body(of request: Request, upTo limit: Int) async throws -> [UInt8] {
        do {
            var buffer = try await request.body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw APIError(status: .contentTooLarge, message: "the body is larger than \(limit) bytes")
        }
    }

    /// An optional small JSON body (an empty one is `{}`), strictly decoded.
    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request) async throws -> Value {
        var bytes = try await body(of: request, upTo: FrontDoor.smallBody)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { bytes = Array("{}".utf8) }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            // Not the decoder's words: they may quote the body, and a body may hold a private note.
            throw APIError(
                status: .badRequest, message: "the body must be a JSON object of strings: outcome, id, note")
        }
    }

    /// `POST /v1/checkins`' answer.
    struct Accepted: Encodable, Sendable {
        var ids: [String]
    }

    /// `POST /v1/tasks/{id}/…`' body: the outcome of a contact; optionally an event id (a retry
    /// sends the same one) and a private note.
    struct ActionInput: Decodable {
        var outcome: String?
        var id: String?
        var note: String?
    }

    /// `POST /v1/tasks/{id}/…`' answer.
    struct Acted: Encodable, Sendable {
        var task: String
        var action: String
        var event: String
    }

    struct Worklist: Encodable, Sendable {
        var asOf: String
        var tasks: [WorklistEntry]
        enum CodingKeys: String, CodingKey {
            case tasks
            case asOf = "as_of"
        }
    }

    struct Caseload: Encodable, Sendable {
        var asOf: String
        var clients: [CaseloadLine]
        enum CodingKeys: String, CodingKey {
            case clients
            case asOf = "as_of"
        }
    }
}
