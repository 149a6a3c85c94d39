import Logging
import VigilCore

/// `type: journal`: the alert as a journal entry only, with `VIGIL_CLIENT`, `VIGIL_TIER`,
/// `VIGIL_TASK`, `VIGIL_KIND`, `VIGIL_PLAN` (the recovery plan's minimum), `VIGIL_ACTIONS` (the action
/// links, when configured) and a PRIORITY that rises with the tier, so a supervisor can follow
/// `journalctl -f VIGIL_TIER=imminent`.
struct JournalChannel: DeliveryChannel {
    let logger: Logger

    func deliver(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        logger.log(
            task.tier.logLevel, .taskAlert,
            "\(task.kind.rawValue) for client \(task.client) at tier \(task.tier.rawValue), due \(task.due): \(task.instruction)",
            [
                "client": "\(task.client)", "tier": "\(task.tier.rawValue)", "task": "\(task.id)",
                "kind": "\(task.kind.rawValue)", "route": "\(task.route)", "due": "\(task.due)",
                "score": "\(task.score)", "reasons": "\(task.reasonsLine)", "plan": "\(task.planLine)",
                "actions": "\(task.actionsLine)",
            ])
        return .delivered
    }
}
