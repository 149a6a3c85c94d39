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
    /// Bytes kept of the command's stdout and of its stderr, for the error message.
    static let keptOutput = 4_096
    /// The environment variable that marks a run's processes (see `killAll`).
    static let markerName = "VIGIL_DELIVERY="

    func deliver(_ task: TaskRecord, at now: Timestamp) async -> DeliveryOutcome {
        let payload = JSONOutput.data(task.payload(status: "firing"))
        let command = self.command
        let timeout = self.timeout
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Self.run(command, input: payload, timeout: timeout))
            }
        }
    }

    /// Runs the command to its exit or its timeout, whichever comes first; blocking, and never
    /// past the timeout (plus the time to kill): the payload is written as the command reads it,
    /// its stdout and stderr are read as it writes them, and nothing waits on the command alone.
    ///
    /// At the timeout the command's process group is killed, and so is every process that carries
    /// this run's marker in its environment (a descendant that left the group). A command that
    /// exits by itself is not chased: what it leaves behind (a daemonizing sendmail) is its
    /// business, and the run ends at once even if such a process holds the pipes open.
    static func run(_ command: [String], input: Data, timeout: TimeSpan) -> DeliveryOutcome {
        let deadline = SystemClock.monotonicMicroseconds() + timeout.microseconds
        guard let stdin = PipeEnds(), let stdout = PipeEnds(), let stderr = PipeEnds() else {
            return .retry("\(SystemError("pipe", path: command[0]))")
        }
        let marker = markerName + String(UInt64.random(in: .min ... .max), radix: 16)
        let spawned = spawn(command, stdin: stdin.read, stdout: stdout.write, stderr: stderr.write, marker: marker)
        stdin.closeRead()
        stdout.closeWrite()
        stderr.closeWrite()
        let pid: pid_t
        switch spawned {
        case .success(let child): pid = child
        case .failure(let error): return .failed("\(command[0]): cannot run: \(String(cString: strerror(error.errno)))")
        }
        var io = CommandIO(payload: input, stdin: stdin, stdout: stdout, stderr: stderr)
        var status: Int32 = 0
        while true {
            let left = deadline - SystemClock.monotonicMicroseconds()
            guard left > 0 else {
                killAll(group: pid, marker: marker)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return .retry("\(command[0]): killed after its timeout of \(timeout.compact)\(io.detail)")
            }
            // The child's exit shows on the pipes only if nothing it left behind holds them, so it
            // is also checked every 10 ms.
            io.exchange(waitingAtMost: min(left, 10_000))
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR {
                return .retry("\(SystemError("waitpid", path: command[0]))")
            }
        }
        io.finish()
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        let signal = status & 0x7f
        let code = (status >> 8) & 0xff
        switch (signal, code) {
        case (0, 0): return .delivered
        case (0, temporaryFailure): return .retry("\(command[0]) exited 75 (temporary failure)\(io.detail)")
        case (0, _): return .failed("\(command[0]) exited \(code)\(io.detail)")
        default: return .retry("\(command[0]) killed by signal \(signal)\(io.detail)")
        }
    }

    /// Starts the command in its own process group with the given ends as its stdin, stdout and
    /// stderr, the notifier's environment plus `marker`, default signal handling and nothing else
    /// of the notifier's open.
    static func spawn(_ command: [String], stdin: Int32, stdout: Int32, stderr: Int32, marker: String)
        -> Result<pid_t, SystemError>
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
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
        let ownMarker = strdup(marker)
        defer { free(ownMarker) }
        var environment: [UnsafeMutablePointer<CChar>?] = []
        // Null after a clearenv(3), hence the optional.
        let inherited: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        if let inherited {
            var index = 0
            while let variable = inherited[index] {
                if strncmp(variable, markerName, markerName.utf8.count) != 0 { environment.append(variable) }
                index += 1
            }
        }
        environment += [ownMarker, nil]
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, &attributes, arguments, environment)
        guard spawned == 0 else { return .failure(SystemError("posix_spawn", path: command[0], errno: spawned)) }
        return .success(pid)
    }

    /// SIGKILL to the command's process group, then to every process whose environment holds
    /// `marker` (`/proc/PID/environ`): a descendant that left the group (setsid, a double fork)
    /// still inherited it. Passes repeat until one finds nothing new, so that a process forked
    /// between a pass's read and its kill is found by the next.
    ///
    /// Limits: only processes whose environment the notifier may read are seen (its own uid's);
    /// one that cleared or overwrote its environment (`env -i`) escapes. Under systemd the unit's
    /// cgroup still ends it when the notifier stops (KillMode=control-group).
    static func killAll(group pid: pid_t, marker: String) {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)  // the command itself, even if it left its group and cleared its environment
        let wanted = Array(marker.utf8)
        var killed: Set<pid_t> = []
        for _ in 0..<10 {
            let before = killed.count
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let other = pid_t(name), other != getpid(), !killed.contains(other),
                    let environment = readAll("/proc/\(name)/environ"),
                    environment.split(separator: 0).contains(where: { $0.elementsEqual(wanted) })
                else { continue }
                kill(other, SIGKILL)
                killed.insert(other)
            }
            if killed.count == before { return }
        }
    }

    /// A file's whole content, read to its end (files in /proc report no size); nil if unreadable.
    static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { return count == 0 ? content : nil }
            content += chunk.prefix(count)
        }
    }
}

/// Both ends of a pipe (close-on-exec), each closed once: explicitly, or when this goes away.
final class PipeEnds {
    private(set) var read: Int32 = -1
    private(set) var write: Int32 = -1

    init?() {
        var fds: [Int32] = [-1, -1]
        guard vigil_pipe_cloexec(&fds) == 0 else { return nil }
        (read, write) = (fds[0], fds[1])
    }

    deinit {
        closeRead()
        closeWrite()
    }

    func closeRead() {
        if read >= 0 { close(read) }
        read = -1
    }

    func closeWrite() {
        if write >= 0 { close(write) }
        write = -1
    }
}

/// The notifier's side of a running command: the payload written to its stdin as it reads, its
/// stdout and stderr read as it writes (the first `keptOutput` bytes of each kept, the rest
/// dropped), all through non-blocking ends so that no call waits on the command.
struct CommandIO {
    let payload: Data
    var written = 0
    let stdin: PipeEnds
    var stdout: Capture
    var stderr: Capture

    init(payload: Data, stdin: PipeEnds, stdout: PipeEnds, stderr: PipeEnds) {
        self.payload = payload
        self.stdin = stdin
        self.stdout = Capture(pipe: stdout)
        self.stderr = Capture(pipe: stderr)
        for fd in [stdin.write, stdout.read, stderr.read] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if payload.isEmpty { stdin.closeWrite() }
    }

    /// Waits up to `microseconds` for the command to read or write, and moves what it can.
    mutating func exchange(waitingAtMost microseconds: Int64) {
        var fds = [
            pollfd(fd: stdin.write, events: Int16(POLLOUT), revents: 0),
            pollfd(fd: stdout.pipe.read, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stderr.pipe.read, events: Int16(POLLIN), revents: 0),
        ]
        // poll ignores a negative fd (a closed end); a millisecond at least, or this would spin.
        guard poll(&fds, nfds_t(fds.count), Int32(max(1, microseconds / 1000))) > 0 else { return }
        if fds[0].revents != 0 { writePayload() }
        if fds[1].revents != 0 { stdout.readAvailable(atMost: 65_536) }
        if fds[2].revents != 0 { stderr.readAvailable(atMost: 65_536) }
    }

    /// Writes as much of the rest of the payload as the pipe takes now; closes stdin when all of
    /// it is written, or when the command closed its end (EPIPE: SIGPIPE is ignored by `vigil
    /// notify`, and a command may well exit without reading).
    mutating func writePayload() {
        let offset = written
        let count = payload.withUnsafeBytes { bytes -> Int in
            guard let base = bytes.baseAddress else { return 0 }
            return Glibc.write(stdin.write, base + offset, bytes.count - offset)
        }
        if count > 0 { written += count }
        if written == payload.count || (count < 0 && errno != EAGAIN && errno != EINTR) { stdin.closeWrite() }
    }

    /// After the command exited: what its pipes already hold is read (without waiting for a
    /// process it left behind to close them), then every end is closed.
    mutating func finish() {
        stdin.closeWrite()
        stdout.readAvailable(atMost: 1 << 20)
        stderr.readAvailable(atMost: 1 << 20)
        stdout.pipe.closeRead()
        stderr.pipe.closeRead()
    }

    /// The command's stderr (its stdout if stderr is empty), escaped, as `: TEXT` for an error
    /// message; empty if it wrote nothing.
    var detail: String {
        let output = stderr.isEmpty ? stdout : stderr
        guard !output.isEmpty else { return "" }
        let dropped = output.dropped > 0 ? " (\(output.dropped) more bytes dropped)" : ""
        return ": " + LogText.escaped(utf8: output.trimmed, limit: ExecChannel.keptOutput) + dropped
    }

    /// One output of the command.
    struct Capture {
        let pipe: PipeEnds
        var kept: [UInt8] = []
        var dropped = 0

        var isEmpty: Bool { trimmed.isEmpty }
        /// The kept bytes without leading and trailing blanks and line breaks.
        var trimmed: [UInt8] {
            let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }
            return Array(kept.drop(while: blank).reversed().drop(while: blank).reversed())
        }

        /// Reads what the pipe holds now, up to `limit` bytes, without waiting; closes the pipe at
        /// its end.
        mutating func readAvailable(atMost limit: Int) {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            var total = 0
            while pipe.read >= 0 && total < limit {
                let count = read(pipe.read, &chunk, chunk.count)
                if count < 0 && errno == EINTR { continue }
                if count == 0 || (count < 0 && errno != EAGAIN) { pipe.closeRead() }
                guard count > 0 else { return }
                let keep = min(count, ExecChannel.keptOutput - kept.count)
                kept += chunk.prefix(keep)
                dropped += count - keep
                total += count
            }
        }
    }
}
