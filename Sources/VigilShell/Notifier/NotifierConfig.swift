import Foundation
import Glibc
import VigilCore
import Yams

/// The notifier's configuration: the `notifier:` section of vigil.yaml.
///
/// ```yaml
/// notifier:
///   channels:
///     team: {type: webhook, url: "https://hooks.example.org/vigil", secret_file: /etc/vigil/webhook.secret}
///     pager: {type: alertmanager, url: "http://127.0.0.1:9093"}
///     sms: {type: exec, command: [/usr/local/bin/send-sms, --team, crisis], timeout: 30s}
///     log: {type: journal}
///   routes:                        # first match wins; every key given must match
///     - {match: {route: crisis_clinician}, channel: pager}
///     - {match: {kind: [escalation, overdue], tier: [high, imminent]}, channel: team}
///   default_channel: log           # tasks no route matches
///   fallback_channel: log          # where a dead escalation is tried next (default: journal)
/// ```
/// Without a `notifier:` section every task goes to the journal. A channel named `journal` (the
/// journal) exists unless the configuration defines one.
public struct NotifierConfig: Sendable {
    public var channels: [String: ChannelConfig]
    public var routes: [Route]
    public var defaultChannel: String
    public var fallbackChannel: String
    /// How long past its due time an open outreach task may stay before an `overdue` escalation.
    public var overdueGrace: TimeSpan
    /// The route of `overdue` escalations (for the supervisors).
    public var overdueRoute: String
    /// How long a claim holds a task: a notifier killed mid-delivery loses it for at most this long.
    public var lease: TimeSpan
    /// How often the queue is looked at when idle.
    public var pollInterval: TimeSpan
    /// The first and the longest wait between retries.
    public var retryInitial: TimeSpan
    public var retryLongest: TimeSpan
    /// The action links alerts carry (from the `api:` section; nil: none).
    public var links: ActionLinks?

    public static let keys = [
        "channels", "routes", "default_channel", "fallback_channel", "overdue_grace", "overdue_route", "lease",
        "poll_interval", "retry_initial", "retry_longest",
    ]

    /// Every task to the journal.
    public static let journalOnly = NotifierConfig(
        channels: ["journal": .journal], routes: [], defaultChannel: "journal", fallbackChannel: "journal",
        overdueGrace: .hours(4), overdueRoute: "supervisor", lease: .minutes(2), pollInterval: .milliseconds(100),
        retryInitial: .seconds(2), retryLongest: .minutes(5))

    /// One channel: where and how a task is delivered.
    public enum ChannelConfig: Sendable {
        case webhook(url: URL, secret: [UInt8], timeout: TimeSpan, maxAge: TimeSpan)
        case alertmanager(url: URL, timeout: TimeSpan, maxAge: TimeSpan)
        case exec(command: [String], timeout: TimeSpan, maxAge: TimeSpan)
        case journal

        /// The longest a delivery may take.
        var timeout: TimeSpan {
            switch self {
            case .webhook(_, _, let timeout, _), .alertmanager(_, let timeout, _), .exec(_, let timeout, _):
                return timeout
            case .journal: return .seconds(1)
            }
        }

        var maxAge: TimeSpan {
            switch self {
            case .webhook(_, _, _, let maxAge), .alertmanager(_, _, let maxAge), .exec(_, _, let maxAge): return maxAge
            case .journal: return .days(1)
            }
        }
    }

    /// A route: the conditions a task must meet (each given set must contain the task's value) and
    /// the channel it then goes to.
    public struct Route: Sendable {
        public var kinds: Set<TaskKind>?
        public var tiers: Set<Tier>?
        public var routes: Set<String>?
        public var channel: String

        func matches(kind: TaskKind, tier: Tier, route: String) -> Bool {
            (kinds?.contains(kind) ?? true) && (tiers?.contains(tier) ?? true) && (routes?.contains(route) ?? true)
        }
    }

    /// The channel for a task: the fallback for a fallback task, else the first matching route, else the default.
    public func channel(kind: TaskKind, tier: Tier, route: String, isFallback: Bool) -> String {
        if isFallback { return fallbackChannel }
        return routes.first { $0.matches(kind: kind, tier: tier, route: route) }?.channel ?? defaultChannel
    }
}

extension TimeSpan {
    public static func milliseconds(_ value: Int64) -> TimeSpan { TimeSpan(microseconds: value * 1000) }
}

// MARK: - Parsing

extension NotifierConfig {
    /// The `notifier:` section of the configuration file `config` came from (journal only without one).
    public static func load(for config: VigilConfig) throws(SourceErrors) -> NotifierConfig {
        guard config.origin.hasPrefix("/") || FileManager.default.fileExists(atPath: config.origin) else {
            return journalOnly
        }
        let text = try VigilConfig.readText(config.origin, what: "the configuration")
        var notifier = try parse(text, file: config.origin)
        notifier.links = try APIConfig.parse(text, file: config.origin).links
        return notifier
    }

    /// Parses the `notifier:` section of the configuration file text `text` from `file`; throws
    /// every problem found.
    static func parse(_ text: String, file: String) throws(SourceErrors) -> NotifierConfig {
        let reader = YAMLReader(path: file, text: text)
        var config = journalOnly
        if let section = reader.root(known: VigilConfig.keys)?.map("notifier", known: keys) {
            config = parse(section)
        }
        try reader.finish()
        return config
    }

    /// The configuration in `section`, its problems recorded in the section's reader.
    static func parse(_ section: YAMLMap) -> NotifierConfig {
        var config = journalOnly
        if let channels = section.map("channels", known: nil, "must be a mapping of name: {type: …}") {
            if channels.entries.isEmpty { section.report("channels", "must be a mapping of name: {type: …}") }
            config.channels = [:]
            for entry in channels.entries {
                if let channel = channel(entry, in: channels) { config.channels[entry.name] = channel }
            }
        }
        config.defaultChannel = section.string("default_channel") ?? config.channels.keys.sorted().first ?? "journal"
        // The fallback is the journal unless said otherwise: never, by default, the very channel an
        // escalation may just have died on. A channel `journal` always exists.
        if config.channels["journal"] == nil { config.channels["journal"] = .journal }
        config.fallbackChannel = section.string("fallback_channel") ?? "journal"
        config.routes = (section.list("routes") ?? []).compactMap { route($0.node, path: $0.path, in: section) }
        config.overdueGrace = span("overdue_grace", in: section) ?? config.overdueGrace
        config.overdueRoute = section.string("overdue_route") ?? config.overdueRoute
        config.lease = span("lease", in: section) ?? config.lease
        config.pollInterval = span("poll_interval", in: section) ?? config.pollInterval
        config.retryInitial = span("retry_initial", in: section) ?? config.retryInitial
        config.retryLongest = span("retry_longest", in: section) ?? config.retryLongest
        let named =
            [("default_channel", config.defaultChannel), ("fallback_channel", config.fallbackChannel)]
            + config.routes.map { ("routes", $0.channel) }
        for (key, name) in named where config.channels[name] == nil {
            section.report(
                key, "no channel '\(name)' (channels: \(config.channels.keys.sorted().joined(separator: ", ")))")
        }
        for (name, channel) in config.channels.sorted(by: { $0.key < $1.key })
        where channel.timeout.microseconds * 2 > config.lease.microseconds {
            section.report(
                "lease",
                "must be at least twice channel '\(name)''s timeout (\(channel.timeout.compact)), or a slow delivery could be claimed twice"
            )
        }
        return config
    }

    static let channelKeys = ["type", "url", "secret_file", "command", "timeout", "max_age"]

    /// The channel `entry` of `channels`; nil (reported) when malformed.
    static func channel(_ entry: YAMLMap.Entry, in channels: YAMLMap) -> ChannelConfig? {
        guard let section = channels.map(entry.name, known: channelKeys) else { return nil }
        let timeout = span("timeout", in: section) ?? .seconds(10)
        let maxAge = span("max_age", in: section) ?? .hours(1)
        guard let type = section.string("type") else {
            if section["type"] == nil { section.report("type", "required (webhook, alertmanager, exec or journal)") }
            return nil
        }
        func url() -> URL? {
            guard let text = section.string("url"), let url = URL(string: text),
                url.scheme == "http" || url.scheme == "https", url.host != nil
            else {
                section.report("url", "required: an http:// or https:// URL")
                return nil
            }
            guard url.user == nil, url.password == nil else {
                section.report(
                    "url",
                    "must not hold credentials (user:password@): they would be in the configuration and the logs, "
                        + "and are not sent; authenticate the webhook by its signature (secret_file)")
                return nil
            }
            return url
        }
        switch type {
        case "webhook":
            guard let secretFile = section.string("secret_file") else {
                section.report("secret_file", "required: a file holding the HMAC secret (never put the secret inline)")
                return nil
            }
            guard let url = url(), let secret = secret(secretFile, in: section) else { return nil }
            return .webhook(url: url, secret: secret, timeout: timeout, maxAge: maxAge)
        case "alertmanager":
            return url().map { .alertmanager(url: $0, timeout: timeout, maxAge: maxAge) }
        case "exec":
            guard let command = section.strings("command"), let program = command.first, program.hasPrefix("/") else {
                section.report("command", "required: a list, starting with an absolute path")
                return nil
            }
            return .exec(command: command, timeout: timeout, maxAge: maxAge)
        case "journal":
            return .journal
        default:
            section.report("type", "unknown channel type '\(type)' (webhook, alertmanager, exec, journal)")
            return nil
        }
    }

    /// The secret's bytes (surrounding whitespace trimmed); nil (reported) when missing, empty, or
    /// readable by other users.
    static func secret(_ path: String, in section: YAMLMap, key: String = "secret_file") -> [UInt8]? {
        switch SecretFile.read(path) {
        case .success(let secret): return secret
        case .failure(let problem):
            section.report(key, problem.description)
            return nil
        }
    }

    /// One route of `routes:`; nil (reported) when malformed.
    static func route(_ node: Node, path: String, in section: YAMLMap) -> Route? {
        guard let fields = section.reader.map(node, path: path, known: ["match", "channel"]) else { return nil }
        guard let channel = fields.string("channel") else {
            if fields["channel"] == nil { fields.report("channel", "required") }
            return nil
        }
        var route = Route(kinds: nil, tiers: nil, routes: nil, channel: channel)
        guard let match = fields.map("match", known: ["kind", "tier", "route"]) else { return route }
        if let kinds = texts("kind", in: match) {
            route.kinds = Set(
                kinds.compactMap { text in
                    guard let kind = TaskKind(rawValue: text) else {
                        match.report(
                            "kind",
                            "unknown kind '\(text)' (\(TaskKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                        return nil
                    }
                    return kind
                })
        }
        if let tiers = texts("tier", in: match) {
            route.tiers = Set(
                tiers.compactMap { text in
                    guard let tier = Tier(rawValue: text) else {
                        match.report("tier", "unknown tier '\(text)' (low, moderate, high, imminent)")
                        return nil
                    }
                    return tier
                })
        }
        route.routes = texts("route", in: match).map(Set.init)
        return route
    }

    /// One text or a list of texts.
    static func texts(_ key: String, in map: YAMLMap) -> [String]? {
        if let text = map[key]?.scalar?.string { return [text] }
        let problem = "must be text or a list of texts"
        guard let texts = map.strings(key, problem) else { return nil }
        if texts.isEmpty { map.report(key, problem) }
        return texts
    }

    /// A span such as `500ms`, `30s`, `4h`.
    static func span(_ key: String, in map: YAMLMap) -> TimeSpan? {
        guard let text = map.string(key, "must be non-empty text") else { return nil }
        if text.hasSuffix("ms"), let value = Double(text.dropLast(2)),
            let span = TimeSpan(checkedSeconds: value / 1000),
            span.microseconds > 0
        {
            return span
        }
        guard let span = TimeSpan(text: text), span.microseconds > 0 else {
            map.report(key, "'\(text)' is not a duration (500ms, 30s, 5m, 4h, 1d)")
            return nil
        }
        return span
    }
}
