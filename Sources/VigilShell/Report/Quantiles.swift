/// The quantiles the replay and the report print, over values in ascending order.
enum Quantiles {
    /// The middle value (the mean of the two middle ones for an even count); nil when empty.
    static func median(_ sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The nearest-rank `fraction` quantile (0.9: the smallest value at or above 90 % of them).
    static func nearestRank(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        return sorted[max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)]
    }
}
