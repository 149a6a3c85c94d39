import XCTest

@testable import VigilCore

final class StrictJSONParserTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try StrictJSONParser.parse(Array(text.utf8)) }

    func problem(_ bytes: [UInt8]) -> String? {
        do {
            _ = try StrictJSONParser.parse(bytes)
            return nil
        } catch {
            return error.problem
        }
    }

    func problem(_ text: String) -> String? { problem(Array(text.utf8)) }

    func testParsesEveryValueType() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d\n\u00e9\ud83d\ude00"}} "#)
        XCTAssertEqual(
            value,
            .object([
                ("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null])),
                ("b", .object([("c", .string("d\né😀"))])),
            ]))
    }

    func testObjectsKeepDocumentOrder() throws {
        guard case .object(let members) = try parse(#"{"z":1,"a":2,"m":3}"#) else { return XCTFail() }
        XCTAssertEqual(members.map(\.key), ["z", "a", "m"])
    }

    func testDuplicateKeysAreRejectedInSmallAndLargeObjects() {
        XCTAssertEqual(problem(#"{"a":1,"a":2}"#), "duplicate key \"a\"")
        let many = (0..<40).map { "\"k\($0)\":0" }.joined(separator: ",")
        XCTAssertNil(problem("{\(many)}"))
        XCTAssertEqual(problem("{\(many),\"k3\":1}"), "duplicate key \"k3\"")
        XCTAssertEqual(problem("{\(many),\"k39\":1}"), "duplicate key \"k39\"")
    }

    func testADuplicateKeyIsEchoedOnlyWhenItIsAShortPrintableToken() {
        XCTAssertEqual(problem(#"{"he said\npills":1,"he said\npills":2}"#), "duplicate key \"<unprintable key>\"")
        let long = String(repeating: "k", count: 65)
        XCTAssertEqual(problem("{\"\(long)\":1,\"\(long)\":2}"), "duplicate key \"<unprintable key>\"")
    }

    func testInvalidUTF8AndSurrogatesAreRejected() {
        XCTAssertEqual(problem([0x22, 0xC3, 0x28, 0x22]), "string is not valid UTF-8")
        XCTAssertEqual(problem([0x22, 0xED, 0xA0, 0x80, 0x22]), "string is not valid UTF-8")
        XCTAssertEqual(problem(#""\ud800""#), "lone surrogate in \\u escape")
        XCTAssertEqual(problem(#""\udc00x""#), "lone surrogate in \\u escape")
        XCTAssertEqual(problem(#""\ud800\u0041""#), "lone surrogate in \\u escape")
        XCTAssertEqual(problem([0xEF, 0xBB, 0xBF, 0x7B, 0x7D]), "a UTF-8 byte order mark (save the file without one)")
        XCTAssertEqual(problem([0x5B, 0xEF, 0xBB, 0xBF, 0x5D]), "unexpected character", "only a leading one is named")
    }

    func testNumbersFollowTheGrammarAndMustBeFinite() {
        for bad in ["01", "1.", ".5", "-", "+1", "1e", "0x10", "NaN", "Infinity", "-Infinity"] {
            XCTAssertNotNil(problem(bad), bad)
        }
        XCTAssertEqual(problem("1e400"), "number 1e400 is not a finite double")
        XCTAssertNil(problem("-0.0e-5"))
    }

    func testDepthIsBounded() {
        XCTAssertNil(problem(String(repeating: "[", count: 16) + String(repeating: "]", count: 16)))
        XCTAssertEqual(
            problem(String(repeating: "[", count: 17) + String(repeating: "]", count: 17)),
            "nested deeper than 16 levels")
        XCTAssertNotNil(problem(String(repeating: "{\"a\":", count: 100_000)))
    }

    func testStructuralErrors() {
        for bad in [
            "", " ", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "[1 2]", "{1:2}", "\"abc", "tru", "nul", "{} {}", "\"a\tb\"",
        ] {
            XCTAssertNotNil(problem(bad), bad)
        }
    }

    func testErrorsCarryTheirOffset() {
        do {
            _ = try StrictJSONParser.parse(Array(#"{"a":1,"a":2}"#.utf8))
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.offset, 7)
        }
    }
}
