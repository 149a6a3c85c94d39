import Foundation
import XCTest

/// A bounded libFuzzer run of the check-in decoder and of the rule language (scripts/fuzz), from
/// the committed seed corpora in Tests/Fuzz. `VIGIL_FUZZ_SECONDS` sets the time per target
/// (default 20, to keep CI under 30 minutes; docs/reliability.md describes the longer run).
final class FuzzTests: XCTestCase {
    func testTheDecoderAndTheRuleLanguageSurviveFuzzing() throws {
        let seconds = ProcessInfo.processInfo.environment["VIGIL_FUZZ_SECONDS"] ?? "20"
        let (status, output) = try runCommand([Harness.repository + "/scripts/fuzz", seconds])
        let summary = output.split(separator: "\n").filter {
            $0.hasPrefix("fuzz:") || $0.hasPrefix("Done ") || $0.contains("ERROR") || $0.hasPrefix("SUMMARY")
        }
        print(summary.joined(separator: "\n"))
        XCTAssertEqual(status, 0, "a crash (see .build-fuzz/crashes/):\n\(output.suffix(4000))")
        let runs = summary.filter { $0.hasPrefix("Done ") }
        XCTAssertEqual(runs.count, 2, "both targets ran:\n\(output.suffix(4000))")
    }
}
