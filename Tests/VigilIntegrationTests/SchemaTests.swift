import Foundation
import XCTest

/// docs/checkin.schema.json and the decoder agree on the published samples.
final class SchemaTests: XCTestCase {
    var examples: String { Harness.repository + "/docs/examples" }

    func sampleNames(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: examples + "/" + folder)) ?? []).filter {
            $0.hasSuffix(".json")
        }.sorted()
    }

    func testSamplesAgainstTheJSONSchema() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Harness.repository + "/Tests/VigilIntegrationTests/Support/validate_schema.py",
            Harness.repository + "/docs",
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw XCTSkip("SKIPPED LOUDLY: python3 not found; the JSON Schema was NOT checked (run scripts/setup)")
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 3 {
            throw XCTSkip(
                "SKIPPED LOUDLY: python jsonschema missing; the JSON Schema was NOT checked (run scripts/setup)")
        }
        XCTAssertEqual(process.terminationStatus, 0, output)
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, sampleNames("valid").count + sampleNames("invalid").count)
        for name in sampleNames("valid") {
            XCTAssertTrue(lines.contains("valid valid/\(name)"), "schema refuses valid/\(name): \(output)")
        }
        for name in sampleNames("invalid") {
            XCTAssertTrue(lines.contains { $0.hasPrefix("invalid invalid/\(name):") }, "schema accepts invalid/\(name)")
        }
    }

    func testSamplesAgainstTheDecoder() throws {
        let harness = try Harness()
        XCTAssertGreaterThanOrEqual(sampleNames("valid").count, 4)
        XCTAssertGreaterThanOrEqual(sampleNames("invalid").count, 8)
        for folder in ["valid", "invalid"] {
            for name in sampleNames(folder) {
                let result = try harness.run([
                    "submit", "--as-of", "2026-11-23T00:00:00Z", examples + "/\(folder)/\(name)",
                ])
                XCTAssertEqual(result.status, folder == "valid" ? 0 : 65, "\(folder)/\(name): \(result)")
            }
        }
    }
}
