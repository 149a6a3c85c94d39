import Foundation

/// The one way the shell writes JSON: `Codable` values as compact text with sorted keys (stable,
/// so a redelivered payload is byte-identical and outputs diff cleanly). The encoder is made once
/// and shared (it keeps no state between calls).
public enum JSONOutput {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The shared decoder, for reading back what `data` wrote (task reasons).
    static let decoder = JSONDecoder()

    /// `value` as compact JSON bytes. Encoding the shell's own `Encodable` types cannot fail (they
    /// hold strings, numbers, booleans and finite doubles); if one ever did, the output is an object
    /// whose `error` names it.
    public static func data<Value: Encodable>(_ value: Value) -> Data {
        do {
            return try encoder.encode(value)
        } catch {
            return (try? encoder.encode(["error": "cannot encode \(Value.self): \(error)"])) ?? Data()
        }
    }

    /// `value` as compact JSON text.
    public static func text<Value: Encodable>(_ value: Value) -> String {
        String(decoding: data(value), as: UTF8.self)
    }
}

/// An optional member written as `null` when absent, for the keys documented as always present
/// (synthesized `Encodable` leaves an absent optional out).
@propertyWrapper
public struct NullWhenAbsent<Value: Encodable & Sendable>: Encodable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}
