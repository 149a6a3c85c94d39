import XCTest

@testable import VigilShell

/// Parsing of vigil.yaml and vocabulary.yaml (the shell's only pure-ish parts).
final class ConfigParseTests: XCTestCase {
    func testRelativePathsResolveAgainstTheConfigDirectory() throws {
        let config = try VigilConfig.parse(
            "spool: s\nstate: /var/lib/vigil\nrules: ../rules\n", path: "/etc/vigil/vigil.yaml")
        XCTAssertEqual(config.spool, "/etc/vigil/s")
        XCTAssertEqual(config.state, "/var/lib/vigil")
        XCTAssertEqual(config.rules, "/etc/vigil/../rules")
        XCTAssertEqual(config.databasePath, "/var/lib/vigil/vigil.sqlite")
        XCTAssertEqual(config.origin, "/etc/vigil/vigil.yaml")
    }

    func testErrorsNameFileLineAndKey() {
        let cases: [(String, String)] = [
            ("spool: a\nstate: b\nrules: c\nwatchdog: 5\n", "/x/vigil.yaml:4: key 'watchdog': unknown key"),
            ("spool: a\nstate: b\n", "key 'rules': required"),
            ("spool: [a]\nstate: b\nrules: c\n", "key 'spool': must be a non-empty string"),
            ("spool: a\nspool: b\n", "duplicated key(s): 'spool'"),
            ("- a\n- b\n", "the top level must be a mapping"),
            ("spool: 'a\n", "not valid YAML"),
        ]
        for (text, expected) in cases {
            do {
                _ = try VigilConfig.parse(text, path: "/x/vigil.yaml")
                XCTFail("accepted: \(text)")
            } catch {
                XCTAssertTrue(error.description.contains(expected), "\(error) should contain \(expected)")
                XCTAssertEqual(error.exitStatus, .config)
            }
        }
    }

    func testTheEmbeddedDefaultLivesUnderTheGivenDirectory() {
        let config = VigilConfig.embeddedDefault(directory: "/home/dev/vigil")
        XCTAssertEqual(config.spool, "/home/dev/vigil/var/spool")
        XCTAssertEqual(config.state, "/home/dev/vigil/var/state")
        XCTAssertEqual(config.rules, "/home/dev/vigil/Rules")
    }

    func testTheShippedVocabularyLoadsAndHasTheCodesTheIssueNames() throws {
        let vocabulary = try VocabularyFile.load(rulesDirectory: Scratch.repository + "/Rules")
        for sign in ["withdrawing_from_routines", "romanticizing_use", "isolation", "hopelessness"] {
            XCTAssertTrue(vocabulary.contains(sign, in: .signs), sign)
        }
        for stressor in ["job_loss", "conflict_at_home", "housing_loss", "legal", "bereavement"] {
            XCTAssertTrue(vocabulary.contains(stressor, in: .stressors), stressor)
        }
        for protective in ["naloxone_on_hand", "safety_plan_reviewed", "attending_meetings"] {
            XCTAssertTrue(vocabulary.contains(protective, in: .protective), protective)
        }
    }

    func testVocabularyErrors() {
        for (text, expected) in [
            ("signs: [a, a]\n", "key 'signs': a code is listed twice"),
            ("signs: [Bad-Code]\n", "code 'Bad-Code' is not snake_case"),
            ("sign: [a]\n", "key 'sign': unknown key"),
            ("signs: a\n", "key 'signs': must be a list"),
        ] {
            XCTAssertThrowsError(try VocabularyFile.parse(text, path: "v.yaml"), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }
}
