import Dispatch
import Foundation
import Synchronization
import XCTest

@testable import VigilShell

/// The threads that share work in a commit: every index run exactly once, whoever runs it.
final class ParallelTests: XCTestCase {
    /// A shared loop runs each index once, on its helper, on the thread that finishes it, or on the
    /// lanes of a `Parallel.map` running meanwhile (which help open loops between their items), and
    /// `finish()` returns only once every index is done.
    func testASharedLoopRunsEveryIndexOnceWhoeverRunsIt() {
        let count = 5_000
        let runs = (0..<count).map { _ in Counter() }
        let total = Atomic<Int>(0)
        for _ in 0..<20 {
            for index in runs.indices { runs[index].value.store(0, ordering: .relaxed) }
            let loop = SharedLoop(count, width: 2) { index in
                runs[index].value.wrappingAdd(1, ordering: .relaxed)
                total.wrappingAdd(1, ordering: .relaxed)
            }
            let background = DispatchGroup()
            DispatchQueue.global().async(group: background) {
                _ = Parallel.map(64, width: 2) { $0 * 2 }
            }
            loop.finish()
            XCTAssertTrue(
                runs.indices.allSatisfy { runs[$0].value.load(ordering: .relaxed) == 1 },
                "every index once, all done by finish()")
            background.wait()
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 20 * count)
    }
}

extension ParallelTests {
    /// A loop whose `finish()` is never called (its transaction failed between the commit's
    /// steps) is run to its end by its helper and then let go: it holds its clients' work no longer.
    func testALoopNeverFinishedIsRunToItsEndAndLetGo() {
        weak var released: Counter?
        do {
            let counter = Counter()
            released = counter
            _ = SharedLoop(100, width: 2) { _ in counter.value.wrappingAdd(1, ordering: .relaxed) }
        }
        let deadline = Date().addingTimeInterval(10)
        while released != nil, Date() < deadline { usleep(1_000) }
        XCTAssertNil(released, "the open loops still hold a loop nobody finished")
    }
}

extension ParallelTests {
    /// A background lane that helps open loops runs every index no other thread has claimed: once
    /// `helpOpenLoops()` returns, at most the one index the loop's own helper is running is not
    /// done (each takes a millisecond; the helper alone would need the whole loop's time).
    func testALaneHelpingRunsTheOpenLoopsUnclaimedIndices() {
        let count = 200
        let done = Counter()
        let loop = SharedLoop(count, width: 2) { _ in
            usleep(1_000)
            done.value.wrappingAdd(1, ordering: .relaxed)
        }
        SharedLoop.helpOpenLoops()
        XCTAssertGreaterThanOrEqual(done.value.load(ordering: .relaxed), count - 1, "the lane ran what was left")
        loop.finish()
        XCTAssertEqual(done.value.load(ordering: .relaxed), count)
    }
}

extension ParallelTests {
    /// Lanes start their work at once, on threads of their own (the caller hears from a lane
    /// before it waits), all at the same time (each lane's first index waits for the others'), run
    /// each index once, none of them on the caller's thread, and `wait()` gives the results in
    /// index order.
    func testLanesRunEveryIndexOnceOnThreadsOfTheirOwnFromTheStart() {
        let started = DispatchSemaphore(value: 0)
        let caller = pthread_self()
        let arrived = Atomic<Int>(0)
        let threads = Mutex<Set<UInt>>([])
        let lanes = Lanes(1_000, width: 3) { index -> Int in
            if index == 0 { started.signal() }
            if index < 3 {
                // Every lane alive at once, so no thread's id is reused by another lane's.
                arrived.wrappingAdd(1, ordering: .relaxed)
                let deadline = Date().addingTimeInterval(60)
                while arrived.load(ordering: .relaxed) < 3, Date() < deadline { usleep(100) }
                XCTAssertEqual(arrived.load(ordering: .relaxed), 3, "a lane never started")
            }
            XCTAssertEqual(pthread_equal(pthread_self(), caller), 0, "an index ran on the caller's thread")
            threads.withLock { _ = $0.insert(UInt(pthread_self())) }
            return index * 2
        }
        XCTAssertEqual(started.wait(timeout: .now() + 60), .success, "no lane ran before wait()")
        XCTAssertEqual(lanes.wait(), (0..<1_000).map { $0 * 2 })
        XCTAssertEqual(threads.withLock { $0.count }, 3, "one thread per lane")
        XCTAssertEqual(Lanes(0, width: 2) { $0 }.wait(), [], "nothing to do: no lane")
    }
}

extension ParallelTests {
    /// A lane whose thread cannot be created (a task limit reached) is run by `wait()` on the
    /// caller: every result is there, in order, nothing hangs; a second `wait()` gives them again.
    func testLanesWhoseThreadsCannotBeCreatedAreRunByWait() {
        let spawned = Atomic<Int>(0)
        // The first lane gets a thread, the others none.
        let firstOnly: Lanes<Int>.Spawn = { work in
            guard spawned.wrappingAdd(1, ordering: .relaxed).newValue == 1 else { return false }
            return Lanes<Int>.thread(work)
        }
        let lanes = Lanes(100, width: 3, spawn: firstOnly) { $0 + 1 }
        XCTAssertEqual(lanes.unstarted, [1, 2])
        XCTAssertEqual(lanes.wait(), Array(1...100))
        XCTAssertEqual(lanes.wait(), Array(1...100), "the same results again")
    }
}

/// A counter shared by threads.
private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
