/// A type-checked expression, compiled once into a closure of its static type.
///
/// A missing value (a measure not reported, no earlier matching event) is `nil`: arithmetic on it is
/// `nil`, and every comparison with it is false.
enum Compiled: Sendable {
    case bool(@Sendable (EvaluationContext) -> Bool)
    case number(@Sendable (EvaluationContext) -> Double?)
    case duration(@Sendable (EvaluationContext) -> TimeSpan?)
    /// A string; `domain` lists the values it can take (kind, source…), `literal` is set for constants.
    case string(@Sendable (EvaluationContext) -> String?, domain: [String]?, literal: String?)
    /// A code list field of the event (signs, stressors, protective); the operators that take one
    /// (`in`, `any`, `size`) read it in place through `Compiler.reading`.
    case codes(Vocabulary.List)
    /// A constant list of strings: a list literal or a shared list.
    case strings([String])
    /// A list of the client's recovery plan in force at the event's time (empty without one).
    case planList(PlanList)

    var typeName: String {
        switch self {
        case .bool: return "bool"
        case .number: return "number"
        case .duration: return "duration"
        case .string: return "string"
        case .codes(let list): return "code list (\(list.rawValue))"
        case .strings: return "list of strings"
        case .planList(let list): return "plan list (plan.\(list.rawValue))"
        }
    }
}

/// A compiled condition in a struct, so that arrays and dictionaries of them keep the closure at its
/// natural abstraction: calling one then needs no reabstraction thunk, which would copy the context
/// and retain everything it holds on every call.
struct Condition: Sendable {
    let test: @Sendable (EvaluationContext) -> Bool
}

/// A compiled number read from one event, boxed for the same reason as `Condition`.
struct NumberInput: Sendable {
    let read: @Sendable (ObservedEvent) -> Double?
}

/// The lists of a client's recovery plan that rules read: `plan.triggers`, `plan.warning_signs`,
/// `plan.pathway`.
enum PlanList: String, CaseIterable, Sendable {
    case triggers
    case warningSigns = "warning_signs"
    case pathway

    /// The vocabulary list its codes come from (nil for pathways, which are a fixed set).
    var codes: Vocabulary.List? {
        switch self {
        case .triggers: return .stressors
        case .warningSigns: return .signs
        case .pathway: return nil
        }
    }

    /// The values it may hold when not vocabulary codes.
    var domain: [String]? { self == .pathway ? RecoveryPlan.Pathway.allCases.map(\.rawValue) : nil }

    /// Its values in `plan`.
    func values(of plan: RecoveryPlan) -> [String] {
        switch self {
        case .triggers: return plan.triggers
        case .warningSigns: return plan.warningSigns
        case .pathway: return plan.pathways.map(\.rawValue)
        }
    }

    /// A reader of the list in the plan in force at the event's time.
    var reader: @Sendable (EvaluationContext) -> [String] {
        let list = self
        return { ctx in ctx.history?.plan(at: ctx.event.at).map { list.values(of: $0.plan) } ?? [] }
    }
}
