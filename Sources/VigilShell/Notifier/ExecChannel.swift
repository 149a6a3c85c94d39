import Foundation
import Glibc
import VigilCore

/// `type: exec`: runs a command (sendmail, an SMS gateway's CLI) with the task's JSON payload on
/// stdin and a timeout. Exit 0 is delivered, 75 (EX_TEMPFAIL) is retried, anything else (or a
/// command killed at its timeout, which is retried) failed.
struct ExecChannel: DeliveryChannel {
    let command: [String]
    let timeout: TimeSpan

    static let temporaryFailure: Int32 = 75

    func deliver(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        let payload = Data(JSONText.encode(task.payload(status: "firing")).utf8)
        let command = self.command
        let timeout = self.timeout
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Self.run(command, input: payload, timeout: timeout))
            }
        }
    }

    /// Runs the command to completion or to its timeout (then SIGKILL); blocking.
    static func run(_ command: [String], input: Data, timeout: TimeSpan) -> DeliveryOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let stdin = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            return .failed("\(command[0]): cannot run: \(error.localizedDescription)")
        }
        // The payload is small (a few KiB), well within a pipe's buffer: writing cannot block.
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()
        let deadline = DispatchTime.now() + .microseconds(Int(timeout.microseconds))
        if finished.wait(timeout: deadline) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
            return .retry("\(command[0]): killed after its timeout of \(timeout.compact)")
        }
        let detail = String(decoding: stderr.fileHandleForReading.availableData.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let status = process.terminationStatus
        switch (process.terminationReason, status) {
        case (.exit, 0): return .delivered
        case (.exit, temporaryFailure): return .retry("\(command[0]) exited 75 (temporary failure) \(detail)")
        case (.exit, _): return .failed("\(command[0]) exited \(status) \(detail)")
        default: return .retry("\(command[0]) killed by signal \(status)")
        }
    }
}
