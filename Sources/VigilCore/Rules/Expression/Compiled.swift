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
