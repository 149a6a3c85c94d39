import Dispatch
import Glibc
import Synchronization

/// Runs independent work on a fixed number of threads and collects the results in order.
///
/// Used to read spool files, and for the work a commit shares out (through `SharedLoop`). Unlinking,
/// which mostly waits, runs on threads of its own (`Lanes`).
public enum Parallel {
    /// `body(i)` for every `i` in `0..<count`, on `width` threads; results in index order.
    public static func map<T>(_ count: Int, width: Int, _ body: (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let lanes = max(1, min(width, count))
        if lanes == 1 { return (0..<count).map(body) }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            let slots = SendableBuffer(base: base)
            withoutActuallyEscaping(body) { body in
                let work = UnsafeSendable(body)
                DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                    var index = lane
                    while index < count {
                        (slots.base + index).initialize(to: work.value(index))
                        index += lanes
                        SharedLoop.helpOpenLoops()
                    }
                }
            }
            initialized = count
        }
    }

}

extension Parallel {
    /// `body(i)` for every `i` in `0..<count`, on `width` threads (each index touched by one lane).
    public static func forEach(_ count: Int, width: Int, _ body: (Int) -> Void) {
        _ = map(count, width: width, body)
    }

    /// Frees `value` on another thread: releasing thousands of check-ins or effects would take the
    /// committing thread's time.
    static func release<T: Sendable>(_ value: consuming T) {
        DispatchQueue.global().async { [value] in withExtendedLifetime(value) {} }
    }
}

/// Work started on another thread now, whose result `wait()` returns (blocking until it is done).
/// Used to read and validate the next spool chunk while the current one commits.
final class Background<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: T?

    /// `work` runs on a global queue; the caller must keep what it reads alive until `wait()`.
    init(_ work: @escaping () -> T) {
        let job = UnsafeSendable(work)
        DispatchQueue.global().async { [self] in
            result = job.value()
            done.signal()
        }
    }

    /// The result, once the work has finished. Call it exactly once.
    func wait() -> T? {
        done.wait()
        defer { result = nil }
        return result
    }
}

/// `body(i)` for every `i` in `0..<count`, started now on up to `width` threads of their own;
/// `wait()` returns the results in index order. For system calls that mostly wait on the device
/// (unlinking spool files, each of which waits for its blocks to be freed): they run beside the
/// CPU-bound work of the next commit, and the dispatch pool's few threads are left to that work. A
/// lane whose thread cannot be created (a task limit reached) is run by `wait()` on the caller.
public final class Lanes<T: Sendable>: @unchecked Sendable {
    /// Creates a thread running `work`; false when none could be created.
    public typealias Spawn = (_ work: @escaping @Sendable () -> Void) -> Bool

    private let results: UnsafeMutablePointer<T>
    private let count: Int
    private let lanes: Int
    private let body: @Sendable (Int) -> T
    private let done = DispatchSemaphore(value: 0)
    /// The lanes no thread could be created for (set by `init`; no lane reads it).
    public private(set) var unstarted: [Int] = []
    /// What `wait()` returned (only the caller touches it).
    private var collected: [T]?

    public init(_ count: Int, width: Int, spawn: Spawn = Lanes.thread, _ body: @escaping @Sendable (Int) -> T) {
        self.count = count
        self.body = body
        results = .allocate(capacity: max(1, count))
        lanes = min(max(1, width), count)
        for lane in 0..<lanes where !spawn({ [self] in run(lane) }) { unstarted.append(lane) }
    }

    /// The results, once every lane is done (the same results again on a later call).
    public func wait() -> [T] {
        if let collected { return collected }
        for lane in unstarted { run(lane) }
        for _ in 0..<lanes { done.wait() }
        let all = Array(UnsafeBufferPointer(start: results, count: count))
        collected = all
        return all
    }

    /// Every started lane holds the lanes until it is done, so by now each has filled its indices;
    /// an unstarted lane's are filled only if `wait()` ran it.
    deinit {
        for lane in 0..<lanes where collected != nil || !unstarted.contains(lane) {
            var index = lane
            while index < count {
                (results + index).deinitialize(count: 1)
                index += lanes
            }
        }
        results.deallocate()
    }

    private func run(_ lane: Int) {
        var index = lane
        while index < count {
            (results + index).initialize(to: body(index))
            index += lanes
        }
        done.signal()
    }

    /// Runs `work` on a new detached thread.
    public static func thread(_ work: @escaping @Sendable () -> Void) -> Bool {
        let start = Unmanaged.passRetained(ThreadStart(work))
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                Unmanaged<ThreadStart>.fromOpaque(argument).takeRetainedValue().work()
                return nil
            }, start.toOpaque())
        guard created == 0 else {
            start.release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}

/// What a thread created by `Lanes` runs.
private final class ThreadStart {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
}

/// `body(i)` for every `i` in `0..<count`, started now on `width - 1` other threads; `finish()`
/// lends the calling thread to what is left and returns once every index is done. Used to evaluate
/// a commit's clients while the same thread stores its events.
///
/// Each index is claimed by exactly one thread. `finish()` never waits for a helper that has not
/// started (it claims that helper's share itself), only for an index a helper is running.
///
/// A loop is on its caller's critical path, a background job (reading the next spool chunk) is
/// not: until its last index is done, the lanes of `Parallel.map` run the loop's indices between
/// their own items, so the loop does not wait behind a job that holds the other core.
final class SharedLoop: @unchecked Sendable {
    /// The loops not finished yet, and whether there is any (read without the lock by every lane).
    private static let open = Mutex<[SharedLoop]>([])
    private static let anyOpen = Atomic<Bool>(false)

    private let count: Int
    private let body: (Int) -> Void
    private let next = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let allDone = DispatchSemaphore(value: 0)

    /// `body` may run on other threads until `finish()` returns; what it touches must stay alive
    /// and untouched by the caller until then. A loop whose `finish()` is never called (its
    /// transaction failed) still runs to its end on its helpers, then lets go of `body`.
    init(_ count: Int, width: Int, _ body: @escaping (Int) -> Void) {
        self.count = count
        self.body = body
        // A loop with no helper is run by `finish()` alone.
        guard min(width, count) > 1 else { return }
        Self.open.withLock { loops in
            loops.append(self)
            Self.anyOpen.store(true, ordering: .releasing)
        }
        for _ in 1..<min(width, count) {
            DispatchQueue.global().async { [self] in drain() }
        }
    }

    /// Runs the indices no thread has claimed yet, then waits for those still running elsewhere.
    func finish() {
        guard count > 0 else { return }
        drain()
        allDone.wait()
    }

    /// Runs the unclaimed indices of every loop not finished yet, on the calling thread.
    static func helpOpenLoops() {
        guard anyOpen.load(ordering: .acquiring) else { return }
        for loop in open.withLock({ $0 }) { loop.drain() }
    }

    private func drain() {
        while true {
            let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard index < count else { return }
            body(index)
            // The thread completing the last index closes the loop (whether `finish()` is ever
            // called or not: a failed transaction never calls it) and wakes `finish()`, publishing
            // every lane's writes.
            guard done.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == count else { continue }
            Self.open.withLock { loops in
                loops.removeAll { $0 === self }
                Self.anyOpen.store(!loops.isEmpty, ordering: .releasing)
            }
            allDone.signal()
        }
    }
}

/// A pointer shared by the lanes of `Parallel.map`; each lane writes disjoint indices.
private struct SendableBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}

/// A closure shared by the lanes of `Parallel.map`, which waits for all of them before returning.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
