import VigilCore
import XCTest

final class LogTextTests: XCTestCase {
    func testLineBreaksAndTerminalEscapesCannotForgeALine() {
        XCTAssertEqual(
            LogText.escaped("\u{1b}[31mforged\ncritical line\r\n"), "\\u{1b}[31mforged\\ncritical line\\r\\n")
        XCTAssertEqual(LogText.escaped("a\tb\u{0}c\u{7f}d\u{85}e"), "a\\tb\\u{0}c\\u{7f}d\\u{85}e")
        XCTAssertEqual(LogText.escaped("line\u{2028}para\u{2029}"), "line\\u{2028}para\\u{2029}")
        XCTAssertEqual(LogText.escaped("evil\u{202e}txt.exe\u{2066}"), "evil\\u{202e}txt.exe\\u{2066}")
    }

    func testABackslashIsEscapedSoAnEscapeIsUnambiguous() {
        XCTAssertEqual(LogText.escaped(#"C:\new"#), #"C:\\new"#)
        XCTAssertNotEqual(LogText.escaped(#"\n"#), LogText.escaped("\n"))
    }

    func testValidUTF8IsKept() {
        let text = "Zoë’s café: 危機 🚨 \"quoted\" 'single' <tag> ok"
        XCTAssertEqual(LogText.escaped(text), text)
        XCTAssertEqual(LogText.escaped(utf8: Array(text.utf8)), text)
    }

    func testInvalidUTF8BytesBecomeHex() {
        // A lone continuation byte, a truncated 3-byte sequence, an overlong '/', and 0xff.
        XCTAssertEqual(LogText.escaped(utf8: [0x61, 0x80, 0x62]), "a\\x80b")
        XCTAssertEqual(LogText.escaped(utf8: [0xe2, 0x82, 0x41]), "\\xe2\\x82A")
        XCTAssertEqual(LogText.escaped(utf8: [0xc0, 0xaf, 0xff, 0x0a]), "\\xc0\\xaf\\xff\\n")
        XCTAssertEqual(LogText.escaped(utf8: [0xe2, 0x82, 0xac]), "€", "a valid 3-byte sequence is one character")
    }

    func testTheLimitCutsBetweenEscapesAndMarksTheCut() {
        XCTAssertEqual(LogText.escaped("abc", limit: 3), "abc", "exactly at the limit: no cut")
        XCTAssertEqual(LogText.escaped("abcd", limit: 3), "abc…")
        // `\u{1b}` is 6 bytes: it does not fit in 4 and is not split.
        XCTAssertEqual(LogText.escaped("ab\u{1b}", limit: 4), "ab…")
        XCTAssertEqual(LogText.escaped("aé", limit: 2), "a…", "a character is not split either")
        let long = LogText.escaped(String(repeating: "\u{1b}x\n", count: 10_000), limit: 4_096)
        XCTAssertLessThanOrEqual(long.utf8.count, 4_096 + "…".utf8.count)
        XCTAssertGreaterThan(long.utf8.count, 4_000)
        XCTAssertFalse(long.utf8.contains { $0 < 0x20 || $0 == 0x7f })
    }
}
