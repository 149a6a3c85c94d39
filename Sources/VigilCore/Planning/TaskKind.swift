/// What a task asks a person (or the team's channel) to do.
public enum TaskKind: String, CaseIterable, Sendable {
    /// Act now: the tier rose to one that needs a person (mobile crisis, on-call counselor).
    case escalation
    /// A brief, non-demanding message of care (Motto & Bostrom; caring texts).
    case caringContact = "caring_contact"
    /// A structured follow-up call within 24–72 h (Stanley & Brown's Safety Planning Intervention).
    case followUp = "follow_up"
    /// A peer specialist's check-in.
    case peerCheckin = "peer_checkin"
    /// An outreach task still open after its due time and grace: the supervisors must step in.
    case overdue
    /// Make, or review, the client's recovery plan with them (none yet, or older than the policy
    /// allows); a `plan` check-in resolves it.
    case planReview = "plan_review"

    /// Outreach to the client, which a `contact` event with outcome `reached` resolves and which turns
    /// `overdue` when nobody reaches the client in time.
    public var isOutreach: Bool {
        switch self {
        case .caringContact, .followUp, .peerCheckin: return true
        case .escalation, .overdue, .planReview: return false
        }
    }
}

/// Where a task is in its life. A delivered outreach task stays open until `resolved`.
public enum TaskState: String, CaseIterable, Sendable {
    /// Waiting for its delivery time or for a retry.
    case pending
    /// A notifier holds it (a lease): delivering now. An expired lease makes it claimable again.
    case claimed
    /// The channel accepted it; open until a person resolves it (or a contact does).
    case delivered
    /// Done: a `reached` contact or an `ack` (`vigil queue ack`, the API, an action link).
    case resolved
    /// Every retry failed within the channel's max age (an escalation then goes to the fallback).
    case dead
    /// Withdrawn by a person, with a reason.
    case cancelled

    /// Still waiting for someone to act.
    public var isOpen: Bool { self == .pending || self == .claimed || self == .delivered }
}
