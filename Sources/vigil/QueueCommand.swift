import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil queue …`: the operators' view of the task queue.
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "List, show, acknowledge, retry or cancel tasks.",
        discussion: """
            States: pending (waiting for its time or a retry), claimed (a notifier is delivering it),
            delivered (the channel has it; open until resolved), resolved (a reached contact or an ack),
            dead (every retry failed), cancelled. --json prints the stable keys documented in the README.
            """,
        subcommands: [List.self, Show.self, Take.self, Ack.self, Retry.self, Cancel.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List tasks in queue order: those still needing someone (pending, claimed, delivered, dead).",
            discussion: "--all adds the history (resolved and cancelled); --state S shows the tasks in S only.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only tasks in this state.")
        var state: TaskState?
        @Flag(help: "Every task, resolved and cancelled ones too (default: those still needing someone).")
        var all = false
        @Option(help: "Only this client's tasks.")
        var client: String?
        @Option(help: "At most this many tasks.")
        var limit = 1000
        @Flag(help: "Print a JSON array (stable keys, documented in the README).")
        var json = false

        func run() throws {
            // By default what still needs someone: open tasks, and dead ones (to retry or resolve).
            let needing = Set(TaskState.allCases.filter { $0.isOpen || $0 == .dead })
            let wanted: Set<TaskState>? = state.map { [$0] } ?? (all ? nil : needing)
            var tasks = try withQueue(options, writing: false) { queue in
                try queue.list(states: wanted, client: client, limit: max(1, limit) + 1)
            }
            if tasks.count > max(1, limit) {
                tasks.removeLast()
                printError("only the first \(tasks.count) tasks are listed: raise --limit to see more")
            }
            if json {
                print(JSONOutput.text(tasks))
                return
            }
            print(
                "ID                  STATE      KIND            TIER      CLIENT            DUE                          ATTEMPTS"
            )
            for task in tasks {
                print(
                    [
                        task.id.padding(20), task.state.rawValue.padding(11), task.kind.rawValue.padding(16),
                        task.tier.rawValue.padding(10), task.client.padding(18), task.due.description.padding(29),
                        "\(task.attempts)",
                    ].joined())
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everything about one task.")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Print a JSON object (stable keys, documented in the README).")
        var json = false
        @Argument(help: "The task id (t-…).")
        var id: String

        func run() throws {
            let task = try withQueue(options, writing: false) { queue in try queue.show(id) }
            if json {
                print(JSONOutput.text(task))
                return
            }
            for (key, value) in task.members.sorted(by: { $0.key < $1.key }) {
                switch value {
                case .text(let text?): print("\(key): \(text)")
                case .integer(let number): print("\(key): \(number)")
                case .number(let number): print("\(key): \(number)")
                case .plan: print("\(key): \(task.planLine)")
                case .text(nil), .reasons: break
                }
            }
            print("reasons:")
            for reason in task.reasons { print("  \(reason.rule): \(reason.summary) (\(reason.at))") }
        }
    }

    struct Take: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say who is on a task (\"I'm on it\"): a take event handed to the daemon.",
            discussion: TaskActionOptions.discussion)
        @OptionGroup var action: TaskActionOptions

        func run() throws { try action.hand(.take) }
    }

    struct Ack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that a person handled the task (resolved): an ack event handed to the daemon.",
            discussion: TaskActionOptions.discussion)
        @OptionGroup var action: TaskActionOptions

        func run() throws { try action.hand(.ack) }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliver a dead or waiting task again now.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The task id.")
        var id: String

        func run() throws {
            try withQueue(options, writing: true) { queue in try queue.retryNow(id, at: SystemClock().now()) }
            print("\(id) pending")
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw a task, saying why.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Why it is cancelled (kept with the task).")
        var reason: String
        @Argument(help: "The task id.")
        var id: String

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("--reason must say why")
            }
        }

        func run() throws {
            try withQueue(options, writing: true) { queue in
                try queue.cancel(id, reason: reason, at: SystemClock().now())
            }
            print("\(id) cancelled")
        }
    }
}

/// `queue take` and `queue ack`: the task, who acts, and whether to wait for the daemon.
struct TaskActionOptions: ParsableArguments {
    static let discussion = """
        The act is a check-in (kind take or ack, naming the task and --by) written into the spool like
        `vigil submit`'s, so the event log records who acted; the daemon applies it. Run it as root or
        vigil: the daemon refuses acts from other spool writers. Without --wait the command returns
        once the event is in the spool.
        """

    @OptionGroup var options: ConfigOptions
    @Option(help: "Who acts: an identity (1–64 of A-Z a-z 0-9 . _ : @ -), recorded with the task.")
    var by: String
    @Option(help: "A private note kept with the event (never printed or logged).")
    var note: String?
    @Option(help: "Wait up to this many seconds for the daemon to apply it (0: do not wait).")
    var wait = 0.0
    @Argument(help: "The task id (t-…).")
    var id: String

    func validate() throws {
        guard CheckInDecoder.isActor(by) else {
            throw ValidationError("--by must be an identity: 1–64 of A-Z a-z 0-9 . _ : @ -")
        }
    }

    /// Checks the task exists and can still be acted on, hands the event to the spool, and waits
    /// for the daemon if asked.
    func hand(_ request: TaskActionRequest) throws {
        let config = try options.load()
        let task = try withQueue(options, writing: false) { queue in try queue.show(id) }
        let actionable = request == .take ? task.state.isOpen : task.state.isOpen || task.state == .dead
        guard actionable else {
            printError("cannot \(request.name) task \(id): it is \(task.state.rawValue)")
            throw ArgumentParser.ExitCode(ExitStatus.dataError.rawValue)
        }
        let submission = Submission(spool: SpoolDirectory(root: config.spool), vocabulary: try loadVocabulary(config))
        let event: String
        do {
            event = try submission.act(
                request, task: id, kind: task.kind, client: task.client, by: by, note: note, now: SystemClock().now())
        } catch {
            switch error {
            case .invalid(let reasons): for reason in reasons { printError(reason.description) }
            case .spool(let failure): printError("cannot write to the spool \(config.spool): \(failure)")
            }
            throw ArgumentParser.ExitCode(error.exitStatus.rawValue)
        }
        guard wait > 0 else {
            print("\(id): \(request.name) by \(by) handed to the daemon (event \(event))")
            return
        }
        let deadline = Date().addingTimeInterval(wait)
        while Date() < deadline {
            let now = try withQueue(options, writing: false) { queue in try queue.show(id) }
            let applied = request == .take ? now.takenBy == by : now.state == .resolved
            if applied {
                print("\(id) \(request == .take ? "taken by \(by)" : "resolved by \(by)")")
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        printError(
            "\(id): the daemon has not applied event \(event) within \(wait) s: is `vigil serve` running? (It refuses "
                + "acts handed over by users other than root and vigil: see the spool's rejected/.)")
        throw ArgumentParser.ExitCode(ExitStatus.unavailable.rawValue)
    }
}

/// Opens the configured store's queue (SQLite read-only unless `writing`; PostgreSQL) and runs
/// `body`; errors exit with their status and message.
func withQueue<T>(_ options: ConfigOptions, writing: Bool, _ body: (any QueueOperator) throws -> T) throws -> T {
    let config = try options.load()
    do {
        if case .postgres(let url, let passwordFile) = config.store {
            let target = try PostgresTarget(url: url, passwordFile: passwordFile)
            return try body(try PostgresStoreAccess(target: target, logger: Logger(label: "vigil-queue")))
        }
        let path = config.databasePath
        let store = writing ? try EventStore(path: path, stages: []) : try EventStore(readingFrom: path)
        return try body(TaskQueue(store: store))
    } catch let error as any ExitStatusProviding {
        throw fail(error)
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}

/// `--state` takes a state by name; a mistake lists them, with `queue list`'s usage.
extension TaskState: ExpressibleByArgument {}
