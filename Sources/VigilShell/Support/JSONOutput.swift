import Foundation

/// The one way the shell writes JSON: `Codable` values as compact text with sorted keys (stable,
/// so a redelivered payload is byte-identical and outputs diff cleanly).
public enum JSONOutput {
    /// `value` as compact JSON text. Encoding the shell's own `Encodable` types cannot fail (they
    /// hold strings, numbers, booleans and finite doubles); if one ever did, the error names it.
    public static func text<Value: Encodable>(_ value: Value, pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            return "{\"error\":\(JSONText.quote("cannot encode \(Value.self): \(error)"))}"
        }
    }
}
