import Logging
import VigilCore

/// Publishes what a committed transaction decided, for supervisors tailing the journal: silences
/// that fired, episodes that rose (with the tasks enqueued), escalations (at a priority that rises
/// with the tier), superseded tasks and contacts. Never a note: tasks and decisions hold none.
struct DecisionLog {
    let logger: Logger

    func log(_ record: DecisionRecord) {
        for (client, decision) in record.silences {
            logger.log(
                .notice, .silenceFired, "no contact within the rule's window: absence rule fired",
                [
                    "client": "\(client)", "rule": "\(decision.firing.rule)", "at": "\(decision.firing.at)",
                    "score": "\(decision.score.score)", "tier": "\(decision.score.tier.rawValue)",
                ])
        }
        for change in record.changes where change.tasks > 0 {
            logger.log(
                change.episode.tier.logLevel, .episodeRaised,
                "\(change.opened ? "episode opened" : "episode raised") at tier \(change.episode.tier.rawValue): \(change.tasks) tasks enqueued",
                [
                    "client": "\(change.client)", "tier": "\(change.episode.tier.rawValue)",
                    "episode": "\(change.episode.number)", "tasks": "\(change.tasks)",
                ])
        }
        for (task, score) in record.planned where task.kind == .escalation {
            logger.log(
                task.tier.logLevel, .escalationEnqueued, "escalation enqueued: \(task.instruction)",
                [
                    "client": "\(task.client)", "tier": "\(task.tier.rawValue)", "task": "\(task.id)",
                    "kind": "\(task.kind.rawValue)", "route": "\(task.route)", "score": "\(score)",
                    "episode": "\(task.episode)",
                ])
        }
        for (client, task, tier) in record.superseded {
            logger.log(
                .info, .taskSuperseded, "task superseded by the \(tier.rawValue) plan: cancelled, kept as history",
                ["client": "\(client)", "task": "\(task)", "tier": "\(tier.rawValue)"])
        }
        for (client, task, end) in record.ended {
            let (state, why): (String, String) =
                switch end {
                case .resolved(let by): ("resolved", "by \(by)")
                case .cancelled(let reason): ("cancelled", reason)
                }
            logger.log(
                .info, .taskEnded, "task \(state): \(why)",
                ["client": "\(client)", "task": "\(task)", "state": "\(state)"])
        }
        for (client, change) in record.programs {
            let program = change.program
            let what: String
            switch change {
            case .started: what = "caring-contact program started: \(program.contacts) messages planned"
            case .extended:
                what = "caring-contact program extended by a new crisis: \(program.contacts) messages planned"
            case .stopped: what = "caring-contact program stopped: \(program.stopReason ?? "")"
            }
            logger.log(
                .notice, .programChanged, "\(what)",
                ["client": "\(client)", "program": "\(program.number)", "contacts": "\(program.contacts)"])
        }
        for (client, action, applied) in record.actions {
            let verb = action.resolves ? "acknowledged: task resolved" : "taken"
            let what =
                applied
                ? "task \(verb) by \(action.by)"
                : "\(action.resolves ? "ack" : "take") by \(action.by) changed nothing: the task is not this client's or no longer open"
            logger.log(
                .info, .taskActedOn, "\(what)",
                [
                    "client": "\(client)", "task": "\(action.task)", "by": "\(action.by)",
                    "event": "\(action.event)", "applied": "\(applied)",
                ])
        }
        for (client, contact) in record.contacts {
            let what =
                contact.resolved
                ? "contact reached the client: task resolved"
                : contact.task == nil
                    ? "contact recorded: no open outreach task to apply it to"
                    : "contact attempt recorded (\(contact.outcome.rawValue))"
            logger.log(
                .info, .contactRecorded, "\(what)",
                [
                    "client": "\(client)", "task": "\(contact.task ?? "")", "outcome": "\(contact.outcome.rawValue)",
                    "by": "\(contact.by ?? "")",
                ])
        }
    }
}
