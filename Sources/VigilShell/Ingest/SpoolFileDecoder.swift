import VigilCore

/// What one spool file amounts to once read and validated, before anything is committed.
public enum FileVerdict: Sendable {
    /// A `.json` file holding one valid check-in.
    case single(name: String, event: PendingEvent)
    /// A `.jsonl` batch: its valid lines, and its refused lines with their bytes and reasons.
    case batch(name: String, events: [PendingEvent], refused: [RefusedLine])
    /// The whole file is refused; `crisis` is what it may report (see `CrisisContent`).
    case refused(name: String, digest: String, reasons: [Rejection], crisis: CrisisContent?)
    /// Nothing to do now (vanished, still being written, or a transient error named by `reason`).
    case skipped(name: String, reason: String?)
    /// Changed while it was read, or written too recently to tell (see `SpoolEntry.unsettled`): read again shortly.
    case unsettled(name: String)
}

/// One refused line of a batch.
public struct RefusedLine: Sendable {
    public let number: Int
    public let bytes: [UInt8]
    /// Every problem of the line.
    public let reasons: [Rejection]
    /// What the line may report (see `CrisisContent`).
    public var crisis: CrisisContent?
}

/// Turns a spool entry into a verdict with the pure decoder: one check-in per `.json`, one per `.jsonl` line.
public struct SpoolFileDecoder: Sendable {
    public let decoder: CheckInDecoder

    public init(decoder: CheckInDecoder) { self.decoder = decoder }

    public func verdict(for entry: SpoolEntry, now: Timestamp) -> FileVerdict {
        switch entry {
        case .skipped(let name, let reason):
            return .skipped(name: name, reason: reason)
        case .unsettled(let name):
            return .unsettled(name: name)
        case .refused(let name, let problem, let sample):
            return .refused(
                name: name, digest: sample.isEmpty ? "" : sha256Hex(sample), reasons: [Rejection(problem: problem)],
                crisis: sample.isEmpty ? nil : CrisisContent(bytes: sample))
        case .file(let name, let bytes, let trusted):
            return bytes.withUnsafeBufferPointer { buffer in
                SpoolReader.Format(name: name) == .batch
                    ? batch(name: name, bytes: buffer, trusted: trusted, now: now)
                    : single(name: name, bytes: buffer, trusted: trusted, now: now)
            }
        }
    }

    func single(name: String, bytes: UnsafeBufferPointer<UInt8>, trusted: Bool, now: Timestamp) -> FileVerdict {
        do {
            let decoded = try decoder.decode(bytes, now: now)
            try Self.permit(decoded.checkIn, trusted: trusted)
            return .single(name: name, event: pending(decoded, bytes: bytes, origin: name))
        } catch {
            return .refused(
                name: name, digest: sha256Hex(bytes), reasons: Rejection.reasons(error),
                crisis: CrisisContent(bytes: Array(bytes)))
        }
    }

    func batch(name: String, bytes: UnsafeBufferPointer<UInt8>, trusted: Bool, now: Timestamp) -> FileVerdict {
        var events: [PendingEvent] = []
        var refused: [RefusedLine] = []
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            var contentEnd = end
            if contentEnd > start, bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<contentEnd])
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                do {
                    let decoded = try decoder.decode(line, now: now)
                    try Self.permit(decoded.checkIn, trusted: trusted)
                    events.append(pending(decoded, bytes: line, origin: "\(name):\(lineNumber)"))
                } catch {
                    let lineBytes = Array(line)
                    refused.append(
                        RefusedLine(
                            number: lineNumber, bytes: lineBytes, reasons: Rejection.reasons(line: lineNumber, error),
                            crisis: CrisisContent(bytes: lineBytes)))
                    if refused.count > Self.maxRefusedLines {
                        // Not a batch of check-ins with a few bad lines: keep it whole, list the first errors.
                        var reasons = refused.prefix(100).flatMap(\.reasons)
                        reasons.append(
                            Rejection(
                                problem: "more than \(Self.maxRefusedLines) invalid lines (the first 100 are listed); "
                                    + "the whole batch is kept and none of it was stored"))
                        // Nothing of it is stored: a crisis in any line, valid or not, read or not yet.
                        return .refused(
                            name: name, digest: sha256Hex(bytes), reasons: reasons,
                            crisis: refused.lazy.compactMap(\.crisis).first
                                ?? events.lazy.compactMap { CrisisContent($0.checkIn) }.first
                                ?? CrisisContent(bytes: Array(bytes)))
                    }
                }
            }
            start = end + 1
        }
        if events.isEmpty, refused.isEmpty {
            return .refused(
                name: name, digest: sha256Hex(bytes), reasons: [Rejection(problem: "holds no check-in (empty batch)")],
                crisis: nil)
        }
        return .batch(name: name, events: events, refused: refused)
    }

    /// A `take` or `ack` resolves or claims a task without any contact with the client, so only the
    /// API and `vigil queue` may hand one over (a file owned by root or the daemon's user): a writer
    /// in the spool group who guessed a task id must not end an escalation. Its file is refused, and
    /// kept with the reason.
    static func permit(_ checkIn: CheckIn, trusted: Bool) throws(CheckInErrors) {
        guard !trusted, checkIn.kind.isTaskAction else { return }
        throw CheckInErrors(
            CheckInError(
                field: "kind",
                "\(checkIn.kind.rawValue) is accepted only from vigil api or vigil queue (a file owned by root or the "
                    + "daemon's user), not from another spool writer"))
    }

    /// Past this many invalid lines a batch is refused whole rather than split.
    static let maxRefusedLines = 1_000

    func pending(_ decoded: DecodedCheckIn, bytes: UnsafeBufferPointer<UInt8>, origin: String) -> PendingEvent {
        PendingEvent(
            checkIn: decoded.checkIn, digest: decoded.digest, body: String(decoding: bytes, as: UTF8.self),
            origin: origin)
    }
}
