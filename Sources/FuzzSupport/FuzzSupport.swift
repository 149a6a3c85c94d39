import CFuzzDriver
import Glibc
import VigilCore

/// What the libFuzzer targets share: a vocabulary, and running libFuzzer's driver.
public enum FuzzSupport {
    public static let vocabulary = Vocabulary(
        signs: ["isolation", "hopelessness", "cravings_intensifying", "lapse", "romanticizing_use"],
        stressors: ["job_loss", "conflict_at_home"],
        protective: ["naloxone_on_hand", "safety_plan_reviewed", "attending_meetings"],
        measures: [
            "mood": MeasureDeclaration(range: 0...10, unit: "score"),
            "craving": MeasureDeclaration(range: 0...10, unit: "score"),
            "stress": MeasureDeclaration(range: 0...10, unit: "score"),
            "sleep_hours": MeasureDeclaration(range: 0...24, unit: "hours"),
            "steps": MeasureDeclaration(range: 0...100_000, unit: "steps"),
        ])

    /// A fixed "now", so that a crash reproduces exactly.
    public static let now = Timestamp(seconds: 1_795_000_000)

    /// Runs libFuzzer's driver, calling `input` for every input, and exits with its status; exits
    /// 64 when the binary was built without -sanitize=fuzzer (see scripts/fuzz).
    public static func run(_ input: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        let status = vigil_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, input)
        if status == -1 {
            let message = Array("built without -sanitize=fuzzer: run scripts/fuzz\n".utf8)
            _ = write(STDERR_FILENO, message, message.count)
            exit(64)
        }
        exit(status)
    }
}
