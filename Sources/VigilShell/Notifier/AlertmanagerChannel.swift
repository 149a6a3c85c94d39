import Foundation
import VigilCore

/// `type: alertmanager`: posts the task as an alert to a Prometheus Alertmanager's API v2
/// (`POST /api/v2/alerts`), so teams that page through Alertmanager get Vigil's escalations there.
///
/// Labels: `alertname` (`vigil_KIND`), `client`, `tier`, `kind`, `task`, `route`; annotations:
/// `summary`, `reasons`, `instruction`, `plan` (the recovery plan's minimum: see `TaskRecord.planLine`)
/// and, with action links configured, `action_take`, `action_reached`, `action_no_answer`. Alertmanager resolves an alert whose `endsAt` has passed,
/// so a firing alert is sent with `endsAt` an hour ahead and re-sent every 15 minutes while the
/// task is open; when the task resolves, it is sent once more with `endsAt` = now.
struct AlertmanagerChannel: DeliveryChannel {
    let url: URL
    let post: HTTPPost

    static let hold = TimeSpan.hours(1)
    var renewal: TimeSpan? { .minutes(15) }

    func deliver(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        await send(task, endsAt: now.adding(Self.hold))
    }

    func announceEnd(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        await send(task, endsAt: now)
    }

    private func send(_ task: TaskRecord, endsAt: Timestamp) async -> DeliveryOutcome {
        var annotations = [
            "summary":
                "\(task.kind.rawValue) for client \(task.client) at tier \(task.tier.rawValue) (score \(Int(task.score.rounded())))",
            "reasons": task.reasonsLine, "instruction": task.instruction, "plan": task.planLine,
        ]
        for (action, url) in task.actions ?? [:] { annotations["action_" + action] = url }
        let alert = Alert(
            labels: [
                "alertname": "vigil_\(task.kind.rawValue)", "client": task.client, "tier": task.tier.rawValue,
                "kind": task.kind.rawValue, "task": task.id, "route": task.route,
            ],
            annotations: annotations, startsAt: task.createdAt, endsAt: endsAt)
        return await post.send(
            url.appendingPathComponent("api/v2/alerts"), body: JSONOutput.data([alert]), headers: [:])
    }

    /// One alert of Alertmanager's API v2 `postableAlerts`.
    struct Alert: Encodable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: Timestamp
        var endsAt: Timestamp
    }
}
