import VigilCore
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

    /// `store:`: SQLite by default; PostgreSQL with a URL and a password file (relative to the
    /// configuration's directory); every mistake named with its line and key.
    /// `api.store`: the API's own PostgreSQL login (a path relative to the file's directory); a
    /// SQLite backend there is refused, naming the key.
    func testTheAPIsOwnStoreLogin() throws {
        let base = "spool: s\nstate: t\nrules: r\n"
        let own = try APIConfig.parse(
            base + "api:\n  store: {backend: postgres, url: postgres://vigil_api@db/vigil, password_file: api.pw}\n",
            file: "/etc/vigil/vigil.yaml")
        XCTAssertEqual(own.store, .postgres(url: "postgres://vigil_api@db/vigil", passwordFile: "/etc/vigil/api.pw"))
        XCTAssertNil(try APIConfig.parse(base, file: "/etc/vigil/vigil.yaml").store)
        XCTAssertThrowsError(
            try APIConfig.parse(base + "api:\n  store: {backend: sqlite}\n", file: "/etc/vigil/vigil.yaml")
        ) { error in
            XCTAssertTrue("\(error)".contains("key 'api.store': is the API's own PostgreSQL login"), "\(error)")
        }
    }

    func testStoreSection() throws {
        let base = "spool: s\nstate: t\nrules: r\n"
        XCTAssertEqual(try VigilConfig.parse(base, path: "/etc/vigil/vigil.yaml").store, .sqlite)
        XCTAssertEqual(try VigilConfig.parse(base + "store: {backend: sqlite}\n", path: "/e/v.yaml").store, .sqlite)
        let postgres = try VigilConfig.parse(
            base + "store:\n  backend: postgres\n  url: postgres://vigil@db/vigil\n  password_file: pg.password\n",
            path: "/etc/vigil/vigil.yaml")
        XCTAssertEqual(
            postgres.store, .postgres(url: "postgres://vigil@db/vigil", passwordFile: "/etc/vigil/pg.password"))
        XCTAssertThrowsError(try postgres.sqliteStore(for: "vigil status")) { error in
            XCTAssertTrue(
                "\(error)".contains("sets store.backend: postgres, and vigil status opens SQLite only"), "\(error)")
            XCTAssertEqual((error as? StoreError)?.exitStatus, .config)
        }
        let cases: [(String, String)] = [
            ("store: {backend: postgres}\n", "4:8: key 'store.url': required with backend: postgres"),
            ("store: {backend: mysql}\n", "key 'store.backend': 'mysql' is not a store: sqlite or postgres"),
            ("store: {url: postgres://a@b/c}\n", "key 'store.url': only with backend: postgres"),
            ("store: {backend: postgres, url: x, pool: 3}\n", "key 'store.pool': unknown key"),
            ("store: postgres\n", "key 'store': must be a mapping"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try VigilConfig.parse(base + text, path: "/x/vigil.yaml")) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }

    func testErrorsNameFileLineAndKey() {
        let cases: [(String, String)] = [
            (
                "spool: a\nstate: b\nrules: c\nwatchdog: 5\n",
                "/x/vigil.yaml:4:1: key 'watchdog': unknown key (known keys: spool, state, rules, store, notifier, api)"
            ),
            ("spool: a\nstate: b\n", "key 'rules': required"),
            ("spool: [a]\nstate: b\nrules: c\n", "/x/vigil.yaml:1:8: key 'spool': must be a non-empty string"),
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

    /// The one YAML reader reports every unknown key and wrong type at once, each with its file,
    /// line, column, key path and the offending line under a caret.
    func testTheYAMLReaderReportsEveryProblemWithFileLineAndKey() throws {
        let text = "spool: a\nstate: [b]\nrules: c\nwatchdog: 5\n"
        XCTAssertThrowsError(try VigilConfig.parse(text, path: "/x/vigil.yaml")) { error in
            guard let errors = error as? SourceErrors else { return XCTFail("\(error)") }
            XCTAssertEqual(
                errors.errors.map { "\($0.file):\($0.line ?? 0):\($0.column ?? 0): \($0.key ?? "")" },
                ["/x/vigil.yaml:2:8: state", "/x/vigil.yaml:4:1: watchdog"])
            XCTAssertTrue(
                errors.description.contains("key 'state': must be a non-empty string\n  state: [b]\n         ^"),
                "\(errors)")
            XCTAssertEqual(errors.exitStatus, .config)
        }
        let notifier = """
            spool: a
            notifier:
              lease: soon
              channels:
                team: {type: webhook, colour: red}
              routes:
                - {match: {tier: [high, 3]}, channel: team}
            """
        XCTAssertThrowsError(try NotifierConfig.parse(notifier, file: "n.yaml")) { error in
            let located = (error as? SourceErrors)?.errors.map { "\($0.line ?? 0):\($0.column ?? 0) \($0.key ?? "")" }
            XCTAssertEqual(
                located,
                [
                    "3:10 notifier.lease", "5:11 notifier.channels.team.secret_file",
                    "5:27 notifier.channels.team.colour", "7:5 notifier.routes", "7:22 notifier.routes[0].match.tier",
                ], "\(error)")
        }
        let reader = YAMLReader(path: "t.yaml", text: "a: 1\nb:\n  - {c: x, d: [1]}\n")
        let root = reader.root(known: ["a", "b"])
        let item = root?.list("b")?.first
        let map = item.flatMap { reader.map($0.node, path: $0.path, known: ["c"]) }
        XCTAssertEqual(map?.string("c"), "x")
        XCTAssertNil(root?.string("b"))
        XCTAssertThrowsError(try reader.finish()) { error in
            XCTAssertEqual(
                "\(error)",
                """
                t.yaml:3:3: key 'b': must be a non-empty string
                    - {c: x, d: [1]}
                    ^
                t.yaml:3:12: key 'b[0].d': unknown key (known keys: c)
                    - {c: x, d: [1]}
                             ^
                """)
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
        XCTAssertEqual(vocabulary.measures["mood"], MeasureDeclaration(range: 0...10, unit: "score"))
        XCTAssertEqual(vocabulary.measures["sleep_hours"], MeasureDeclaration(range: 0...24, unit: "hours"))
        XCTAssertEqual(vocabulary.measures.keys.sorted(), ["craving", "mood", "sleep_hours", "stress"])
    }

    func testVocabularyErrors() {
        for (text, expected) in [
            ("signs: [a, a]\n", "key 'signs': a code is listed twice"),
            ("signs: [Bad-Code]\n", "code 'Bad-Code' is not snake_case"),
            ("sign: [a]\n", "key 'sign': unknown key"),
            ("signs: a\n", "key 'signs': must be a list"),
            ("measures: [mood]\n", "key 'measures': measures must map names to {min, max, unit}"),
            (
                "measures:\n  Mood: {min: 0, max: 10, unit: score}\n",
                "v.yaml:2:3: key 'measures.Mood': measure 'Mood' is not snake_case"
            ),
            (
                "measures:\n  mood: {min: 0, max: ten, unit: score}\n",
                "v.yaml:2:23: key 'measures.mood.max': must be a number"
            ),
            (
                "measures:\n  mood: {min: 10, max: 0, unit: score}\n",
                "key 'measures.mood.max': must be greater than min"
            ),
            ("measures:\n  mood: {min: 0, max: 10}\n", "key 'measures.mood.unit': required"),
            ("measures:\n  mood: {min: 0, max: 10, unit: score, step: 1}\n", "key 'measures.mood.step': unknown key"),
        ] {
            XCTAssertThrowsError(try VocabularyFile.parse(text, path: "v.yaml"), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }
}
