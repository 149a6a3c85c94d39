import ArgumentParser
import Foundation
import VigilCore
import VigilShell

/// `vigil submit`: validate a check-in (or a `.jsonl` batch) and drop it into the spool.
struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate check-ins and write them atomically into the spool; prints each event id.",
        discussion: "Exit 65 when the input is invalid (nothing is written), 74 when the spool cannot be written.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "The input is JSON Lines, one check-in per line (implied by a FILE ending in .jsonl).")
    var batch = false

    @Option(name: .customLong("as-of"), help: "Validate as if now were this RFC 3339 time (for the future-time check).")
    var asOf: String?

    @Argument(help: "The check-in file, or - for standard input.")
    var file: String = "-"

    func run() throws {
        let config = try options.load()
        let bytes: [UInt8]
        if file == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                printError("\(file): cannot be read")
                throw ArgumentParser.ExitCode(ExitStatus.noInput.rawValue)
            }
            bytes = Array(data)
        }
        let now = try parseAsOf(asOf)
        let vocabulary = try loadVocabulary(config)
        let submission = Submission(spool: SpoolDirectory(root: config.spool), vocabulary: vocabulary)
        do {
            let ids = try submission.submit(bytes, batch: batch || file.hasSuffix(".jsonl"), now: now)
            for id in ids { print(id) }
        } catch {
            switch error {
            case .invalid(let reasons):
                for reason in reasons { printError("\(file == "-" ? "stdin" : file): \(reason.description)") }
            case .spool(let failure):
                printError("cannot write to the spool \(config.spool): \(failure)")
            }
            throw ArgumentParser.ExitCode(error.exitStatus.rawValue)
        }
    }
}

/// `--as-of` as a timestamp, or the system clock's now.
func parseAsOf(_ text: String?) throws -> Timestamp {
    guard let text else { return SystemClock().now() }
    do {
        return try RFC3339.parse(text)
    } catch {
        printError("--as-of: not an RFC 3339 time: \(error.problem)")
        throw ArgumentParser.ExitCode(64)
    }
}
