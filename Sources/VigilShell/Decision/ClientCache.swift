/// Clients' cached evaluation state, bounded to `capacity` clients in two generations. New and
/// returning clients go into the young generation; once it holds half the capacity, the old one is
/// dropped and the young one becomes old. So memory stays bounded, a client seen among the last
/// `capacity / 2` distinct clients is always kept, and eviction never scans or sorts.
struct ClientCache<Value> {
    let capacity: Int
    private var young: [String: Value] = [:]
    private var old: [String: Value] = [:]

    init(capacity: Int) { self.capacity = max(2, capacity) }

    /// Clients cached.
    var count: Int { young.count + old.count }

    /// Removes and returns a client's value (the caller owns it until it puts it back).
    mutating func take(_ client: String) -> Value? {
        young.removeValue(forKey: client) ?? old.removeValue(forKey: client)
    }

    mutating func put(_ client: String, _ value: Value) {
        old.removeValue(forKey: client)
        young[client] = value
        if young.count >= capacity / 2 {
            old = young
            young = [:]
        }
    }

    mutating func removeAll() {
        young = [:]
        old = [:]
    }
}
