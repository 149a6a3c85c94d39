import CLinux
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

    /// Runs the command to completion or to its timeout; blocking. The command runs in its own
    /// process group, killed whole at the timeout, so a child it left behind cannot outlive the
    /// delivery; its stderr goes to an unlinked temporary file (the first 200 bytes are kept).
    static func run(_ command: [String], input: Data, timeout: TimeSpan) -> DeliveryOutcome {
        var pipeFDs: [Int32] = [-1, -1]
        guard vigil_pipe_cloexec(&pipeFDs) == 0 else { return .retry("\(SystemError("pipe", path: command[0]))") }
        let stderr = unlinkedTemporaryFile()
        defer { close(pipeFDs[1]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        if let stderr {
            posix_spawn_file_actions_adddup2(&actions, stderr.fileDescriptor, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // Nothing else of the notifier's reaches the command (nor a child it leaves behind).
        vigil_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let arguments = command.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, &attributes, arguments, environ)
        close(pipeFDs[0])
        guard spawned == 0 else {
            return .failed("\(command[0]): cannot run: \(String(cString: strerror(spawned)))")
        }
        // The payload is small (a few KiB), within a pipe's buffer: writing cannot block. A command
        // that does not read it may have exited already: EPIPE (SIGPIPE is ignored) is harmless.
        input.withUnsafeBytes { _ = write(pipeFDs[1], $0.baseAddress, $0.count) }
        close(pipeFDs[1])
        pipeFDs[1] = -1
        let deadline = SystemClock.monotonicMicroseconds() + timeout.microseconds
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard SystemClock.monotonicMicroseconds() < deadline else {
                kill(-pid, SIGKILL)
                waitpid(pid, &status, 0)
                return .retry("\(command[0]): killed after its timeout of \(timeout.compact)")
            }
            usleep(2_000)
        }
        var detail = ""
        if let stderr {
            var bytes = [UInt8](repeating: 0, count: 200)
            let count = pread(stderr.fileDescriptor, &bytes, bytes.count, 0)
            detail = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        let signal = status & 0x7f
        let code = (status >> 8) & 0xff
        switch (signal, code) {
        case (0, 0): return .delivered
        case (0, temporaryFailure): return .retry("\(command[0]) exited 75 (temporary failure) \(detail)")
        case (0, _): return .failed("\(command[0]) exited \(code) \(detail)")
        default: return .retry("\(command[0]) killed by signal \(signal)")
        }
    }

    /// A file in the temporary directory, already unlinked (gone when the handle closes).
    static func unlinkedTemporaryFile() -> FileHandle? {
        var template = Array((NSTemporaryDirectory() + "vigil-exec-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        unlink(String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}
