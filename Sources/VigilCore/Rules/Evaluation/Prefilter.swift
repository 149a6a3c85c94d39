/// A cheap necessary condition of a `when:` rule, read from its syntax at load time: an event that
/// fails it cannot fire the rule, so the rule's compiled closures are not called for that event.
/// Each is one bit (`bit`); an event's bits are computed once (`features(of:)`), and testing a
/// rule's prefilter is one AND (no closure call), which is most of what makes a pack of many
/// narrow rules cheap per event.
enum Prefilter: Equatable, Sendable {
    /// Nothing is known: the rule is always tested.
    case always
    /// `kind == "…"`.
    case kind(CheckIn.Kind)
    /// A code of the list is tested (`"…" in signs`, `any(stressors, …)`): the list is not empty.
    case codes(Vocabulary.List)
    /// A screening answer is read (false when there was no screening).
    case screening
    /// A known measure is compared (every comparison with a missing value is false).
    case measure(KnownMeasures.Name)

    func admits(_ event: CheckIn) -> Bool { Self.features(of: event) & bit != 0 }

    /// This prefilter's bit in `features(of:)`: one for `always`, one per kind, list, screening
    /// and known measure (20 in all).
    var bit: UInt64 {
        switch self {
        case .always: return 1
        case .kind(let kind): return 1 << (1 + Self.position(of: kind))
        case .codes(.signs): return 1 << 12
        case .codes(.stressors): return 1 << 13
        case .codes(.protective): return 1 << 14
        case .screening: return 1 << 15
        case .measure(.mood): return 1 << 16
        case .measure(.craving): return 1 << 17
        case .measure(.stress): return 1 << 18
        case .measure(.sleepHours): return 1 << 19
        }
    }

    /// The bits of every prefilter `event` passes, computed once per event: a rule's prefilter is
    /// then one AND (`features & bit != 0`) instead of a switch over the event's fields.
    static func features(of event: CheckIn) -> UInt64 {
        var features: UInt64 = 1 | 1 << (1 + position(of: event.kind))
        if !event.signs.isEmpty { features |= 1 << 12 }
        if !event.stressors.isEmpty { features |= 1 << 13 }
        if !event.protective.isEmpty { features |= 1 << 14 }
        if event.screening != nil { features |= 1 << 15 }
        let known = event.known
        if known.mood != nil { features |= 1 << 16 }
        if known.craving != nil { features |= 1 << 17 }
        if known.stress != nil { features |= 1 << 18 }
        if known.sleepHours != nil { features |= 1 << 19 }
        return features
    }

    /// A kind's place among the 11 kinds (bits 1...11).
    static func position(of kind: CheckIn.Kind) -> Int {
        switch kind {
        case .checkin: return 0
        case .contact: return 1
        case .screening: return 2
        case .missedAppointment: return 3
        case .crisisCall: return 4
        case .discharge: return 5
        case .edVisit: return 6
        case .overdose: return 7
        case .plan: return 8
        case .take: return 9
        case .ack: return 10
        }
    }

    /// The prefilter of an expression; `conditions` gives those of the shared conditions it may name.
    static func of(_ syntax: Syntax, conditions: [String: Prefilter]) -> Prefilter {
        switch syntax {
        case .binary("and", let lhs, let rhs, _):
            let left = of(lhs, conditions: conditions)
            return left != .always ? left : of(rhs, conditions: conditions)
        case .binary("or", let lhs, let rhs, _):
            let left = of(lhs, conditions: conditions)
            return left == of(rhs, conditions: conditions) ? left : .always
        case .binary("==", .path(["kind"], _), .string(let value, _), _),
            .binary("==", .string(let value, _), .path(["kind"], _), _):
            return CheckIn.Kind(rawValue: value).map(Prefilter.kind) ?? .always
        case .binary("in", .string, .path(let path, _), _) where path.count == 1:
            return Vocabulary.List(rawValue: path[0]).map(Prefilter.codes) ?? .always
        case .binary(let op, let lhs, let rhs, _) where ["<", "<=", ">", ">=", "=="].contains(op):
            return measure(lhs) ?? measure(rhs) ?? nonEmpty(op, lhs, rhs) ?? .always
        case .call("any", let arguments, _):
            guard case .path(let path, _)? = arguments.first, path.count == 1 else { return .always }
            return Vocabulary.List(rawValue: path[0]).map(Prefilter.codes) ?? .always
        case .path(let path, _) where path.count == 2 && path[0] == "screening":
            return .screening
        case .path(let path, _) where path.count == 1:
            return conditions[path[0]] ?? .always
        default:
            return .always
        }
    }

    /// `.codes` for `size(LIST) > N` (N ≥ 0) or `size(LIST) >= N` (N ≥ 1).
    static func nonEmpty(_ op: String, _ lhs: Syntax, _ rhs: Syntax) -> Prefilter? {
        guard case .call("size", let arguments, _) = lhs, case .path(let path, _)? = arguments.first,
            path.count == 1, let list = Vocabulary.List(rawValue: path[0]), case .number(let bound, _) = rhs,
            (op == ">" && bound >= 0) || (op == ">=" && bound >= 1)
        else { return nil }
        return .codes(list)
    }

    /// `.measure` for a known measure read directly (not inside an aggregate).
    static func measure(_ syntax: Syntax) -> Prefilter? {
        guard case .path(let path, _) = syntax, path.count == 2, path[0] == "measure",
            let name = KnownMeasures.Name(rawValue: path[1])
        else { return nil }
        return .measure(name)
    }
}
