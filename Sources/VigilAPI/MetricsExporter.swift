import Foundation
import NIOConcurrencyHelpers
import Prometheus
import VigilCore
import VigilShell

/// `GET /metrics`: the store's and the spool's figures in Prometheus' exposition format, read
/// afresh at each scrape (the store is the truth; the API keeps no counts of its own). Names and
/// units follow Prometheus' conventions: `_total` counters, `_seconds`, `_timestamp_seconds`.
final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// One scrape at a time: a counter is set by reset-and-increment.
    private let lock = NIOLock()

    func render(_ snapshot: MetricsSnapshot, spool: SpoolDirectory, now: Timestamp) -> String {
        lock.withLock {
            set(counter("vigil_checkins_stored_total", "Check-ins stored (events)."), snapshot.events)
            set(counter("vigil_checkins_rejected_total", "Check-ins refused and kept in rejected/."), snapshot.rejected)
            gauge("vigil_spool_backlog_files", "Files waiting in the spool's new/.").set(Double(spool.backlog()))
            let oldest = spool.oldestPending().map { seconds(now, since: $0) } ?? 0
            gauge("vigil_spool_oldest_file_age_seconds", "Age of the oldest file waiting in new/ (0: none).").set(
                oldest)
            for state in TaskState.allCases {
                for kind in TaskKind.allCases {
                    gauge(
                        "vigil_tasks", "Tasks by state and kind.", [("state", state.rawValue), ("kind", kind.rawValue)]
                    )
                    .set(Double(snapshot.tasks[state]?[kind] ?? 0))
                }
            }
            gauge("vigil_outreach_overdue", "Open outreach tasks past their due time.").set(
                Double(snapshot.overdueOutreach))
            gauge(
                "vigil_escalation_oldest_pending_age_seconds",
                "How long the oldest escalation due for delivery has waited (0: none)."
            ).set(snapshot.oldestPendingEscalation.map { seconds(now, since: $0) } ?? 0)
            for channel in Set(snapshot.delivered.keys).union(snapshot.dead.keys).sorted() {
                let help = "Tasks delivered, and dead, by channel."
                set(
                    counter("vigil_deliveries_total", help, [("channel", channel), ("outcome", "delivered")]),
                    snapshot.delivered[channel] ?? 0)
                set(
                    counter("vigil_deliveries_total", help, [("channel", channel), ("outcome", "dead")]),
                    snapshot.dead[channel] ?? 0)
            }
            for tier in Tier.allCases {
                gauge("vigil_clients", "Clients by current tier.", [("tier", tier.rawValue)])
                    .set(Double(snapshot.clientsByTier[tier] ?? 0))
            }
            gauge("vigil_last_ingest_timestamp_seconds", "When the last check-in was stored (0: never).")
                .set(snapshot.lastIngest.map { Double($0.microseconds) / 1_000_000 } ?? 0)
            return registry.emitToString()
        }
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    private func set(_ counter: Counter, _ value: Int) {
        counter.reset()
        counter.increment(by: Int64(value))
    }

    private func seconds(_ now: Timestamp, since then: Timestamp) -> Double {
        max(0, Double(now.microseconds - then.microseconds) / 1_000_000)
    }
}
