// libFuzzer target for the check-in decoder: strict JSON, validation, vocabulary, time. Built with
// `-sanitize=fuzzer,address` (see scripts/fuzz); libFuzzer's driver calls it for every input. Any crash, trap or sanitizer report is a bug; a refusal (a thrown CheckInError) is
// the expected answer to bad input. Built without the sanitizer, it refuses to run (exit 64).
import CFuzzDriver
import Glibc
import VigilCore

/// The fixed inputs, built once.
enum Fixture {
    static let decoder = CheckInDecoder(
        vocabulary: Vocabulary(
            signs: ["isolation", "hopelessness", "cravings_intensifying", "lapse", "romanticizing_use"],
            stressors: ["job_loss", "conflict_at_home"],
            protective: ["naloxone_on_hand", "safety_plan_reviewed", "attending_meetings"]))
}

let status = vigil_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
    guard let data else { return 0 }
    return fuzzCheckIn(data, size)
}
if status == -1 {
    let message = Array("built without -sanitize=fuzzer: run scripts/fuzz\n".utf8)
    _ = write(STDERR_FILENO, message, message.count)
    exit(64)
}
exit(status)

/// One input.
func fuzzCheckIn(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // A fixed "now", so that a crash reproduces exactly.
    if let decoded = try? Fixture.decoder.decode(bytes, now: Timestamp(seconds: 1_795_000_000)) {
        // What was accepted must round-trip through the stored form.
        precondition(CheckInDecoder.stored.decodeStored(String(decoding: bytes, as: UTF8.self)) == decoded.checkIn)
    }
    return 0
}
