/// A cheap necessary condition of a `when:` rule, read from its syntax at load time: an event that
/// fails it cannot fire the rule, so the rule's compiled closures are not called for that event.
/// Testing one is a switch over the event's fields (no closure call), which is most of what makes
/// a pack of many narrow rules cheap per event.
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

    func admits(_ event: CheckIn) -> Bool {
        switch self {
        case .always: return true
        case .kind(let kind): return event.kind == kind
        case .codes(.signs): return !event.signs.isEmpty
        case .codes(.stressors): return !event.stressors.isEmpty
        case .codes(.protective): return !event.protective.isEmpty
        case .screening: return event.screening != nil
        case .measure(let name): return event.known[name] != nil
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
