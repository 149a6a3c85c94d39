import Glibc
import VigilCore

/// `vigil submit`: validate with the same decoder the daemon uses, then write into the spool atomically.
public struct Submission: Sendable {
    public let spool: SpoolDirectory
    public let decoder: SpoolFileDecoder

    public init(spool: SpoolDirectory, vocabulary: Vocabulary) {
        self.spool = spool
        self.decoder = SpoolFileDecoder(decoder: CheckInDecoder(vocabulary: vocabulary))
    }

    /// Validates `bytes` (a batch when `batch`); on success writes them to `new/` and returns the event ids.
    /// On failure nothing is written and every problem is returned.
    public func submit(_ bytes: [UInt8], batch: Bool, now: Timestamp) throws(SubmissionError) -> [String] {
        let name = batch ? "input.jsonl" : "input.json"
        if batch, bytes.count > SpoolReader.maxBatchBytes {
            throw .invalid([
                Rejection(problem: "larger than \(SpoolReader.maxBatchBytes) bytes (\(bytes.count)): split the batch")
            ])
        }
        let ids: [String]
        switch decoder.verdict(for: .file(name: name, bytes: bytes), now: now) {
        case .single(_, let event):
            ids = [event.checkIn.id]
        case .batch(_, let events, let refused):
            guard refused.isEmpty else { throw .invalid(refused.flatMap(\.reasons)) }
            ids = events.map(\.checkIn.id)
        case .refused(_, _, let reasons, _):
            throw .invalid(reasons)
        case .skipped, .unsettled:
            throw .invalid([Rejection(problem: "nothing to submit")])
        }
        do {
            try SpoolWriter(spool: spool).write(bytes, extension: batch ? "jsonl" : "json", now: now)
        } catch {
            throw .spool(error)
        }
        return ids
    }
}

/// Why `vigil submit` refused: invalid input (exit 65) or an unwritable spool (exit 74).
public enum SubmissionError: Error, ExitStatusProviding {
    case invalid([Rejection])
    case spool(SystemError)

    public var exitStatus: ExitStatus {
        switch self {
        case .invalid: return .dataError
        case .spool: return .ioError
        }
    }
}
