// libFuzzer target for the check-in decoder: strict JSON, validation, vocabulary, time. Built with
// `-sanitize=fuzzer,address` (see scripts/fuzz); libFuzzer's driver calls it for every input. Any
// crash, trap or sanitizer report is a bug; a refusal (thrown CheckInErrors) is the expected
// answer to bad input. Built without the sanitizer, it refuses to run (exit 64).
import FuzzSupport
import VigilCore

/// The decoder, built once.
enum Fixture {
    static let decoder = CheckInDecoder(vocabulary: FuzzSupport.vocabulary)
}

FuzzSupport.run { data, size in
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let decoded = try? Fixture.decoder.decode(bytes, now: FuzzSupport.now) {
        // What was accepted must round-trip through the stored form.
        precondition(CheckInDecoder.stored.decodeStored(String(decoding: bytes, as: UTF8.self)) == decoded.checkIn)
    }
    return 0
}
