import VigilCore

/// What a person does to a task from the shell (`vigil queue take|ack`), the API or an alert's
/// action link: each becomes a check-in handed to the daemon through the spool, so the event log is
/// the audit trail of who acted and the daemon stays the only writer of decisions.
public enum TaskActionRequest: Sendable, Equatable {
    /// "I'm on it": records who took the task.
    case take
    /// Handled: resolves the task.
    case ack
    /// An outreach attempt on the task with its outcome (`reached` resolves it).
    case contact(CheckIn.Contact.Outcome)

    /// The name used in URLs, links and messages: `take`, `ack`, or the outcome (`reached`, …).
    public var name: String {
        switch self {
        case .take: return "take"
        case .ack: return "ack"
        case .contact(let outcome): return outcome.rawValue
        }
    }

    /// The request a name stands for (see `name`).
    public init?(name: String) {
        switch name {
        case "take": self = .take
        case "ack": self = .ack
        default:
            guard let outcome = CheckIn.Contact.Outcome(rawValue: name) else { return nil }
            self = .contact(outcome)
        }
    }
}

/// The check-in a task action becomes (schema v1), as JSON.
struct TaskActionCheckIn: Encodable {
    struct Action: Encodable {
        var task: String
        var by: String
    }
    struct Contact: Encodable {
        var outcome: String
        var task: String
        var by: String
    }
    var id: String
    var client: String
    var at: String
    var kind: String
    var source: String
    var action: Action?
    var contact: Contact?
    var note: String?
}

extension Submission {
    /// Hands `request` on `task` (of `client`) by `by` to the daemon; returns the event id. `id`
    /// makes a retried request the same event (the store keeps an id once); nil picks a new one.
    /// Validated by the same decoder as every check-in: an invalid `by` or note is refused whole.
    public func act(
        _ request: TaskActionRequest, task: String, client: String, by: String, note: String? = nil,
        id: String? = nil, source: CheckIn.Source = .other, now: Timestamp
    ) throws(SubmissionError) -> String {
        let eventID = id ?? "\(request.name)-\(task)-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        var event = TaskActionCheckIn(
            id: eventID, client: client, at: RFC3339.format(now), kind: "contact", source: source.rawValue, note: note)
        switch request {
        case .take, .ack:
            event.kind = request.name
            event.action = .init(task: task, by: by)
        case .contact(let outcome):
            event.contact = .init(outcome: outcome.rawValue, task: task, by: by)
        }
        let ids = try submit(Array(JSONOutput.data(event)), batch: false, now: now)
        return ids.first ?? eventID
    }
}
