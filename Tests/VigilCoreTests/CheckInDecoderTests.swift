import XCTest

@testable import VigilCore

final class CheckInDecoderTests: XCTestCase {
    let decoder = CheckInDecoder(
        vocabulary: Vocabulary(
            signs: ["isolation", "hopelessness", "romanticizing_use"], stressors: ["job_loss", "conflict_at_home"],
            protective: ["naloxone_on_hand"], measures: MeasureDeclaration.forTests))
    let now = Timestamp(seconds: 1_795_426_200)  // 2026-11-23T09:30:00Z

    func decode(_ text: String) throws(CheckInErrors) -> DecodedCheckIn {
        try decoder.decode(Array(text.utf8), now: now)
    }

    /// Every problem of `text`; nil when it decodes.
    func errors(_ text: String) -> CheckInErrors? {
        do {
            _ = try decode(text)
            return nil
        } catch {
            return error
        }
    }

    /// The first problem of `text`; nil when it decodes.
    func error(_ text: String) -> CheckInError? { errors(text)?.errors.first }

    /// A valid check-in with `fields` merged in (a JSON fragment starting with a comma).
    func event(_ fields: String = "", kind: String = "checkin") -> String {
        #"{"client":"c-17","at":"2026-11-23T08:00:00Z","kind":"\#(kind)","source":"peer"\#(fields)}"#
    }

    func testAFullCheckInDecodes() throws {
        let text = #"""
            {"id":"cm-2026-0001","client":"c-17","at":"2026-11-23T08:00:00-01:00","kind":"screening","source":"counselor",
             "measures":{"mood":2,"craving":7.5,"sleep_hours":4,"steps":1200},"signs":["isolation","hopelessness"],
             "stressors":["job_loss"],"protective":["naloxone_on_hand"],
             "screening":{"wish_dead":true,"suicidal_thoughts":true,"method":false,"behavior_past_3_months":false},
             "note":"private words"}
            """#
        let decoded = try decode(text)
        let checkIn = decoded.checkIn
        XCTAssertEqual(checkIn.id, "cm-2026-0001")
        XCTAssertEqual(checkIn.client, "c-17")
        XCTAssertEqual(checkIn.at, try RFC3339.parse("2026-11-23T09:00:00Z"))
        XCTAssertEqual(checkIn.kind, .screening)
        XCTAssertEqual(checkIn.source, .counselor)
        XCTAssertEqual(checkIn.measures.map(\.name), ["mood", "craving", "sleep_hours", "steps"])
        XCTAssertEqual(checkIn.measure("craving"), 7.5)
        XCTAssertEqual(checkIn.signs, ["isolation", "hopelessness"])
        XCTAssertEqual(checkIn.stressors, ["job_loss"])
        XCTAssertEqual(checkIn.protective, ["naloxone_on_hand"])
        XCTAssertEqual(
            checkIn.screening,
            CheckIn.Screening(wishDead: true, suicidalThoughts: true, method: false, behaviorPast3Months: false))
        XCTAssertEqual(checkIn.note, "private words")
        XCTAssertEqual(decoded.digest, sha256Hex(Array(text.utf8)))
    }

    func testTheIDDefaultsToTheSHA256OfTheBytes() throws {
        let text = event()
        let decoded = try decode(text)
        XCTAssertEqual(decoded.checkIn.id, decoded.digest)
        XCTAssertEqual(decoded.digest.count, 64)
        // SHA-256("abc"), the FIPS 180-2 test vector.
        XCTAssertEqual(sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testContactEvents() throws {
        let contact = try decode(event(#","contact":{"outcome":"reached","task":"t-1"}"#, kind: "contact")).checkIn
            .contact
        XCTAssertEqual(contact, CheckIn.Contact(outcome: .reached, task: "t-1"))
        XCTAssertEqual(error(event(kind: "contact"))?.field, "contact")
        XCTAssertEqual(
            error(event(#","contact":{"outcome":"reached"}"#))?.problem,
            "only allowed when kind is contact (kind is checkin)")
        XCTAssertEqual(error(event(#","contact":{"outcome":"maybe"}"#, kind: "contact"))?.field, "contact.outcome")
        XCTAssertEqual(error(event(#","contact":{"task":"t"}"#, kind: "contact"))?.field, "contact.outcome")
        XCTAssertEqual(
            error(event(#","contact":{"outcome":"reached","why":"x"}"#, kind: "contact"))?.field, "contact.why")
        XCTAssertEqual(
            error(event(#","contact":{"outcome":"reached","by":"Dana Rivera"}"#, kind: "contact"))?.field, "contact.by")
        let by = try decode(event(#","contact":{"outcome":"reached","by":"link:t-1"}"#, kind: "contact")).checkIn
        XCTAssertEqual(by.contact?.by, "link:t-1")
    }

    /// `take` and `ack` name the task and who acted, and nothing else carries `action`.
    func testTaskActions() throws {
        let ack = try decode(event(#","action":{"task":"t-1","by":"counselor.rivera"}"#, kind: "ack")).checkIn
        XCTAssertEqual(ack.action, CheckIn.Action(task: "t-1", by: "counselor.rivera"))
        XCTAssertEqual(error(event(kind: "take"))?.problem, "required when kind is take")
        XCTAssertEqual(
            error(event(#","action":{"task":"t-1","by":"a"}"#))?.problem,
            "only allowed when kind is take or ack (kind is checkin)")
        XCTAssertEqual(error(event(#","action":{"task":"t-1"}"#, kind: "ack"))?.field, "action.by")
        XCTAssertEqual(error(event(#","action":{"by":"a"}"#, kind: "ack"))?.field, "action.task")
        XCTAssertEqual(error(event(#","action":{"task":"t-1","by":"a b"}"#, kind: "ack"))?.field, "action.by")
    }

    /// Each invalid input names the field at fault and the problem.
    func testEachFieldErrorIsSpecific() {
        let cases: [(String, String?, String)] = [
            (event(#","id":"""#), "id", "1–128 printable ASCII"),
            (event(#","id":"has space""#), "id", "1–128 printable ASCII"),
            (event(#","id":7"#), "id", "must be a string"),
            (#"{"at":"2026-11-23T08:00:00Z","kind":"checkin","source":"peer"}"#, "client", "required"),
            (
                event().replacingOccurrences(of: "c-17", with: String(repeating: "c", count: 65)), "client",
                "[A-Za-z0-9._-]{1,64}"
            ),
            (event().replacingOccurrences(of: "\"c-17\"", with: "17"), "client", "must be a string"),
            (
                event().replacingOccurrences(of: "2026-11-23T08:00:00Z", with: "2026-11-23T09:36:00Z"), "at",
                "more than 5 minutes in the future"
            ),
            (event().replacingOccurrences(of: "2026-11-23T08:00:00Z", with: "yesterday"), "at", "not an RFC 3339"),
            (event().replacingOccurrences(of: "\"checkin\"", with: "\"CheckIn\""), "kind", "must be one of checkin"),
            (event().replacingOccurrences(of: "\"peer\"", with: "\"robot\""), "source", "must be one of"),
            (#"{"client":"c","at":"2026-11-23T08:00:00Z","kind":"checkin"}"#, "source", "required"),
            (event(#","measures":[1]"#), "measures", "must be an object"),
            (event(#","measures":{"mood":-1}"#), "measures.mood", "-1.0 is out of range 0–10 (score)"),
            (event(#","measures":{"craving":10.5}"#), "measures.craving", "out of range 0–10"),
            (event(#","measures":{"stress":"high"}"#), "measures.stress", "must be a number, not a string"),
            (event(#","measures":{"sleep_hours":24.01}"#), "measures.sleep_hours", "out of range 0–24"),
            (event(#","measures":{"Heart Rate":60}"#), "measures.<unprintable key>", "snake_case"),
            (event(#","signs":["isolation","isolation"]"#), "signs[1]", "listed more than once"),
            (
                event(#","measures":{"cravng":3}"#), "measures.cravng",
                "unknown measure cravng (not declared in vocabulary.yaml); did you mean craving?"
            ),
            (
                event(
                    #","screening":{"wish_dead":true,"suicidal_thoughts":false,"intent":true,"behavior_past_3_months":false}"#
                ),
                "screening.intent", "questions 3–5 (method, intent, plan) only after a yes to question 2"
            ),
            (event(#","signs":["Isolation"]"#), "signs[0]", "not a snake_case code"),
            (event(#","signs":[3]"#), "signs[0]", "must be a string code"),
            (event(#","stressors":["job_lost"]"#), "stressors[0]", "unknown code job_lost; did you mean job_loss?"),
            (event(#","protective":["isolation"]"#), "protective[0]", "unknown code isolation"),
            (
                event(#","screening":{"wish_dead":true,"behavior_past_3_months":false}"#),
                "screening.suicidal_thoughts",
                "required"
            ),
            (
                event(#","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":1}"#),
                "screening.behavior_past_3_months", "true or false"
            ),
            (
                event(
                    #","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":true,"mood":true}"#
                ), "screening.mood", "unknown answer"
            ),
            (event(kind: "screening"), "screening", "required when kind is screening"),
            (event(#","note":5"#), "note", "must be a string"),
            (
                event(",\"note\":\"" + String(repeating: "é", count: 2049) + "\""), "note",
                "longer than 4096 bytes (4098)"
            ),
            (event(#","extra":1"#), "extra", "unknown field"),
            (event(#","note":null"#), "note", "must be a string, not null"),
            ("[]", nil, "must be a JSON object, not an array"),
            ("{\"client\":\"a\",\"client\":\"b\"}", nil, "duplicate key"),
            ("{", nil, "not valid JSON"),
        ]
        for (text, field, phrase) in cases {
            guard let failures = errors(text), let failure = failures.errors.first else {
                XCTFail("accepted: \(text)")
                continue
            }
            XCTAssertEqual(failures.errors.count, 1, "one problem: \(failures)")
            XCTAssertEqual(failure.field, field, text)
            XCTAssertTrue(failure.problem.contains(phrase), "\(failure) should contain \(phrase)")
        }
    }

    func testTheFiveMinuteSkewIsAllowed() {
        XCTAssertNil(error(event().replacingOccurrences(of: "2026-11-23T08:00:00Z", with: "2026-11-23T09:35:00Z")))
    }

    func testSizeAndEncodingOfTheWholeInput() {
        XCTAssertEqual(error(String(repeating: " ", count: 65_537))?.problem, "larger than 65536 bytes (65537)")
        do {
            _ = try decoder.decode([0x7B, 0xFF, 0x7D], now: now)
            XCTFail("accepted invalid UTF-8")
        } catch {
            XCTAssertEqual(error.errors, [CheckInError(field: nil, "not valid UTF-8")])
        }
    }

    /// The note, and a malformed client id (which may be a name), never appear in an error.
    func testErrorsNeverQuotePrivateText() {
        let secret = "Jane told me she keeps pills"
        let failures = [
            error(event(",\"note\":\"\(secret)\",\"measures\":{\"mood\":99}")),
            error(event().replacingOccurrences(of: "c-17", with: secret)),
            error(event(",\"note\":\"\(secret + String(repeating: "x", count: 5000))\"")),
        ]
        for failure in failures {
            XCTAssertNotNil(failure)
            XCTAssertFalse(
                failure?.description.contains("Jane") ?? true, "\(failure.map(String.init(describing:)) ?? "")")
        }
    }

    /// Every problem of a check-in is reported at once, in field order, each naming its field.
    func testEveryProblemIsReportedAtOnce() {
        let text = #"""
            {"client":"Jane Doe","at":"yesterday","kind":"screening","source":"peer","mod":3,
             "measures":{"mood":11,"cravng":4,"sleep_hours":"6"},"signs":["isolaton","hopelessness","hopelessness"],
             "screening":{"wish_dead":true,"suicidal_thoughts":false,"method":true,"intent":true,"plan":false,
                          "behavior_past_3_months":false},
             "note":"private words"}
            """#
        let failures = errors(text)
        XCTAssertEqual(
            failures?.errors.map(\.field),
            [
                "mod", "client", "at", "measures.mood", "measures.cravng", "measures.sleep_hours", "signs[0]",
                "signs[2]", "screening.method", "screening.intent",
            ])
        XCTAssertEqual(failures?.omitted, 0)
        XCTAssertFalse(failures?.description.contains("private") ?? true, "the note is never quoted")
        XCTAssertFalse(failures?.description.contains("Jane") ?? true, "nor a client id that may be a name")
    }

    /// At most 20 problems are listed; the rest are counted.
    func testTheListOfProblemsIsBounded() {
        let codes = (0..<25).map { "\"unknown_\($0)\"" }.joined(separator: ",")
        let failures = errors(event(#","signs":[\#(codes)]"#))
        XCTAssertEqual(failures?.errors.count, CheckInErrors.limit)
        XCTAssertEqual(failures?.errors.last?.field, "signs[19]")
        XCTAssertEqual(failures?.omitted, 5)
        XCTAssertTrue(failures?.description.hasSuffix("; and 5 more") ?? false, "\(failures.map(\.description) ?? "")")
    }

    /// C-SSRS screener: questions 3–5 are asked only after a yes to question 2.
    func testTheScreenersLogicIsEnforced() throws {
        func screening(_ answers: String) -> String {
            event(#","screening":{"wish_dead":true,\#(answers),"behavior_past_3_months":false}"#, kind: "screening")
        }
        let inconsistent = screening(#""suicidal_thoughts":false,"method":true,"intent":false,"plan":true"#)
        XCTAssertEqual(errors(inconsistent)?.errors.map(\.field), ["screening.method", "screening.plan"])
        XCTAssertNotNil(
            CheckInDecoder.stored.decodeStored(inconsistent), "stored check-ins are read as they were accepted")
        let yes = try decode(screening(#""suicidal_thoughts":true,"method":true,"intent":true,"plan":true"#))
        XCTAssertEqual(yes.checkIn.screening?.plan, true)
        let no = try decode(screening(#""suicidal_thoughts":false,"method":false,"intent":false"#))
        XCTAssertEqual(no.checkIn.screening?.intent, false)
        XCTAssertNil(no.checkIn.screening?.plan, "not asked")
    }

    /// Measures are those the vocabulary declares, within their ranges; `stored` reads any.
    func testMeasuresAreDeclared() throws {
        XCTAssertEqual(
            try decode(event(#","measures":{"energy":10,"steps":0}"#)).checkIn.measures.map(\.value), [10, 0])
        XCTAssertEqual(
            errors(event(#","measures":{"energy":10.5}"#))?.errors,
            [CheckInError(field: "measures.energy", "10.5 is out of range 0–10 (score)")])
        let undeclared = event(#","measures":{"heart_rate":60}"#)
        XCTAssertEqual(
            errors(undeclared)?.errors,
            [CheckInError(field: "measures.heart_rate", "unknown measure heart_rate (not declared in vocabulary.yaml)")]
        )
        XCTAssertEqual(CheckInDecoder.stored.decodeStored(undeclared)?.measure("heart_rate"), 60)
    }

    func testSuggestionsUseEditDistance() {
        XCTAssertEqual(EditDistance.levenshtein("kitten", "sitting"), 3)
        XCTAssertEqual(EditDistance.levenshtein("", "abc"), 3)
        XCTAssertEqual(decoder.vocabulary?.suggestion(for: "hopeless", in: .signs), "hopelessness")
        XCTAssertNil(decoder.vocabulary?.suggestion(for: "zzzzzzzzzzzzzzzzzzzzzz", in: .signs))
    }
}
