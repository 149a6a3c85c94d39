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
    /// Hands `request` on `task` (of `client`, of `kind`) by `by` to the daemon; returns the event
    /// id. `id` makes a retried request the same event (the store keeps an id once); nil picks a new
    /// one. Validated by the same decoder as every check-in: an invalid `by` or note is refused whole.
    /// A contact never resolves an escalation (any spool writer may report one); "reached" on an
    /// escalation is the contact and an `ack` (`ID-ack`) in one batch, which only the API and `vigil
    /// queue` may hand over (see `SpoolFileDecoder.permit`).
    public func act(
        _ request: TaskActionRequest, task: String, kind: TaskKind, client: String, by: String,
        note: String? = nil, id: String? = nil, source: CheckIn.Source = .other, now: Timestamp
    ) throws(SubmissionError) -> String {
        let eventID = id ?? "\(request.name)-\(task)-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        func event(_ kind: String) -> TaskActionCheckIn {
            TaskActionCheckIn(
                id: eventID, client: client, at: RFC3339.format(now), kind: kind, source: source.rawValue, note: note)
        }
        var events: [TaskActionCheckIn]
        switch request {
        case .take, .ack:
            var act = event(request.name)
            act.action = .init(task: task, by: by)
            events = [act]
        case .contact(let outcome):
            var contact = event("contact")
            contact.contact = .init(outcome: outcome.rawValue, task: task, by: by)
            events = [contact]
            if outcome == .reached, kind == .escalation {
                var ack = event("ack")
                ack.id = eventID + "-ack"
                ack.note = nil
                ack.action = .init(task: task, by: by)
                events.append(ack)
            }
        }
        let lines = events.map { String(decoding: JSONOutput.data($0), as: UTF8.self) }.joined(separator: "\n")
        let ids = try submit(Array(lines.utf8), batch: events.count > 1, now: now)
        return ids.first ?? eventID
    }
}
