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

    var typeName: String {
        switch self {
        case .bool: return "bool"
        case .number: return "number"
        case .duration: return "duration"
        case .string: return "string"
        case .codes(let list): return "code list (\(list.rawValue))"
        case .strings: return "list of strings"
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
