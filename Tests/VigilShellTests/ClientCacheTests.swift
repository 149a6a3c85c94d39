import XCTest

@testable import VigilShell

/// The daemon's bounded cache of client state (two generations).
final class ClientCacheTests: XCTestCase {
    func testItStaysBoundedAndKeepsTheRecentHalf() {
        var cache = ClientCache<Int>(capacity: 100)
        for index in 0..<10_000 {
            cache.put("c-\(index)", index)
            XCTAssertLessThanOrEqual(cache.count, 100, "bounded at \(index)")
        }
        for index in 9_950..<10_000 { XCTAssertEqual(cache.take("c-\(index)"), index, "recent c-\(index) kept") }
        XCTAssertNil(cache.take("c-0"), "long unseen clients are dropped")
    }

    func testAClientTakenIsOwnedByTheCallerUntilPutBack() {
        var cache = ClientCache<Int>(capacity: 4)
        cache.put("a", 1)
        cache.put("b", 2)  // the young generation is full: a and b become old
        XCTAssertEqual(cache.take("a"), 1)
        XCTAssertNil(cache.take("a"), "taken, not copied")
        cache.put("a", 3)
        XCTAssertEqual(cache.count, 2)
        XCTAssertEqual(cache.take("a"), 3, "the value put back, not a stale one")
        cache.removeAll()
        XCTAssertEqual(cache.count, 0)
    }
}
