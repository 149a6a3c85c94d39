import XCTest

@testable import VigilCore

final class RFC3339Tests: XCTestCase {
    func testParsesUTCAndOffsetsToTheSameInstant() throws {
        let utc = try RFC3339.parse("2026-11-23T09:30:00Z")
        XCTAssertEqual(utc.microseconds, 1_795_426_200_000_000)
        XCTAssertEqual(try RFC3339.parse("2026-11-23T10:30:00+01:00"), utc)
        XCTAssertEqual(try RFC3339.parse("2026-11-23T04:00:00-05:30"), utc)
        XCTAssertEqual(try RFC3339.parse("2026-11-23t09:30:00z"), utc)
    }

    func testFractionsAreKeptToTheMicrosecond() throws {
        let base = try RFC3339.parse("2026-01-01T00:00:00Z")
        XCTAssertEqual(try RFC3339.parse("2026-01-01T00:00:00.5Z").microseconds - base.microseconds, 500_000)
        XCTAssertEqual(try RFC3339.parse("2026-01-01T00:00:00.123456789Z").microseconds - base.microseconds, 123_456)
    }

    func testCalendarIsChecked() {
        XCTAssertNoThrow(try RFC3339.parse("2024-02-29T00:00:00Z"))
        XCTAssertNoThrow(try RFC3339.parse("2000-02-29T00:00:00Z"))
        for bad in [
            "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:00",
            "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+5:00", "2026-01-01T00:00:00Zjunk",
            "26-01-01T00:00:00Z", "", "2026-01-01T00:00:00+24:00",
        ] {
            XCTAssertThrowsError(try RFC3339.parse(bad), bad)
        }
    }

    func testFormatRoundTrips() throws {
        for text in [
            "1970-01-01T00:00:00.000000Z", "2000-02-29T23:59:59.999999Z", "2026-11-23T09:30:00.000001Z",
            "1969-12-31T23:59:59.500000Z",
        ] {
            XCTAssertEqual(RFC3339.format(try RFC3339.parse(text)), text)
        }
    }

    func testCivilDayConversionIsInverse() {
        for day in stride(from: -800_000, through: 800_000, by: 997) {
            let (year, month, dayOfMonth) = RFC3339.civilFromDays(day)
            XCTAssertEqual(RFC3339.daysFromCivil(year: year, month: month, day: dayOfMonth), day)
        }
    }
}
