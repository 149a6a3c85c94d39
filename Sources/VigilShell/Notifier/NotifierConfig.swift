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
///     - {match: {route: mobile-crisis}, channel: pager}
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

    public static let keys = [
        "channels", "routes", "default_channel", "fallback_channel", "overdue_grace", "overdue_route", "lease",
        "poll_interval", "retry_initial", "retry_longest",
    ]

    /// Every task to the journal.
    public static let journalOnly = NotifierConfig(
        channels: ["journal": .journal], routes: [], defaultChannel: "journal", fallbackChannel: "journal",
        overdueGrace: .hours(4), overdueRoute: "supervisors", lease: .minutes(2), pollInterval: .milliseconds(100),
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
    public static func load(for config: VigilConfig) throws(ConfigError) -> NotifierConfig {
        guard config.origin.hasPrefix("/") || FileManager.default.fileExists(atPath: config.origin) else {
            return journalOnly
        }
        let text: String
        do {
            text = try String(contentsOfFile: config.origin, encoding: .utf8)
        } catch {
            throw ConfigError(file: config.origin, "cannot read the configuration: \(error.localizedDescription)")
        }
        guard let node = try YAMLMapping(text: text, file: config.origin).node("notifier") else { return journalOnly }
        return try parse(node, file: config.origin)
    }

    /// Parses the `notifier:` mapping of the configuration file at `file`.
    static func parse(_ node: Node, file: String) throws(ConfigError) -> NotifierConfig {
        let section = try Section(node, file: file, key: "notifier", known: keys)
        var config = journalOnly
        if let channels = section["channels"] {
            guard let mapping = channels.mapping, !mapping.isEmpty else {
                throw section.error("channels", channels, "must be a mapping of name: {type: …}")
            }
            config.channels = [:]
            for (name, value) in mapping {
                guard let channelName = name.string, !channelName.isEmpty else {
                    throw section.error("channels", name, "channel names must be text")
                }
                config.channels[channelName] = try channel(value, name: channelName, file: file)
            }
        }
        config.defaultChannel = try section.text("default_channel") ?? config.channels.keys.sorted().first ?? "journal"
        // The fallback is the journal unless said otherwise: never, by default, the very channel an
        // escalation may just have died on. A channel `journal` always exists.
        if config.channels["journal"] == nil { config.channels["journal"] = .journal }
        config.fallbackChannel = try section.text("fallback_channel") ?? "journal"
        if let routes = section["routes"] {
            guard let items = routes.sequence else { throw section.error("routes", routes, "must be a list") }
            config.routes = try items.map { (item) throws(ConfigError) in try route(item, file: file) }
        }
        config.overdueGrace = try section.span("overdue_grace") ?? config.overdueGrace
        config.overdueRoute = try section.text("overdue_route") ?? config.overdueRoute
        config.lease = try section.span("lease") ?? config.lease
        config.pollInterval = try section.span("poll_interval") ?? config.pollInterval
        config.retryInitial = try section.span("retry_initial") ?? config.retryInitial
        config.retryLongest = try section.span("retry_longest") ?? config.retryLongest
        let named =
            [("default_channel", config.defaultChannel), ("fallback_channel", config.fallbackChannel)]
            + config.routes.map { ("routes", $0.channel) }
        for (key, name) in named where config.channels[name] == nil {
            throw ConfigError(
                file: file, key: "notifier.\(key)",
                "no channel '\(name)' (channels: \(config.channels.keys.sorted().joined(separator: ", ")))")
        }
        for (name, channel) in config.channels where channel.timeout.microseconds * 2 > config.lease.microseconds {
            throw ConfigError(
                file: file, key: "notifier.lease",
                "must be at least twice channel '\(name)''s timeout (\(channel.timeout.compact)), or a slow delivery could be claimed twice"
            )
        }
        return config
    }

    static let channelKeys = ["type", "url", "secret_file", "command", "timeout", "max_age"]

    static func channel(_ node: Node, name: String, file: String) throws(ConfigError) -> ChannelConfig {
        let section = try Section(node, file: file, key: "notifier.channels.\(name)", known: channelKeys)
        let timeout = try section.span("timeout") ?? .seconds(10)
        let maxAge = try section.span("max_age") ?? .hours(1)
        guard let type = try section.text("type") else {
            throw section.error("type", node, "required (webhook, alertmanager, exec or journal)")
        }
        func url() throws(ConfigError) -> URL {
            guard let text = try section.text("url"), let url = URL(string: text),
                url.scheme == "http" || url.scheme == "https", url.host != nil
            else { throw section.error("url", section["url"] ?? node, "required: an http:// or https:// URL") }
            guard url.user == nil, url.password == nil else {
                throw section.error(
                    "url", section["url"] ?? node,
                    "must not hold credentials (user:password@): they would be in the configuration and the logs, "
                        + "and are not sent; authenticate the webhook by its signature (secret_file)")
            }
            return url
        }
        switch type {
        case "webhook":
            guard let secretFile = try section.text("secret_file") else {
                throw section.error(
                    "secret_file", node, "required: a file holding the HMAC secret (never put the secret inline)")
            }
            return .webhook(
                url: try url(), secret: try secret(secretFile, file: file, key: section.key + ".secret_file"),
                timeout: timeout, maxAge: maxAge)
        case "alertmanager":
            return .alertmanager(url: try url(), timeout: timeout, maxAge: maxAge)
        case "exec":
            guard let command = section["command"]?.sequence?.compactMap(\.string), let program = command.first,
                program.hasPrefix("/")
            else {
                throw section.error(
                    "command", section["command"] ?? node, "required: a list, starting with an absolute path")
            }
            return .exec(command: command, timeout: timeout, maxAge: maxAge)
        case "journal":
            return .journal
        default:
            throw section.error(
                "type", section["type"] ?? node, "unknown channel type '\(type)' (webhook, alertmanager, exec, journal)"
            )
        }
    }

    /// The secret's bytes (surrounding whitespace trimmed); refused when missing, empty, or
    /// readable by other users.
    static func secret(_ path: String, file: String, key: String) throws(ConfigError) -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0, let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: file, key: key, "cannot read \(path)")
        }
        guard info.st_mode & 0o007 == 0 else {
            throw ConfigError(file: file, key: key, "\(path) is readable by other users: chmod o-rwx it")
        }
        let secret = Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard !secret.isEmpty else { throw ConfigError(file: file, key: key, "\(path) is empty") }
        return secret
    }

    static func route(_ node: Node, file: String) throws(ConfigError) -> Route {
        let section = try Section(node, file: file, key: "notifier.routes", known: ["match", "channel"])
        guard let channel = try section.text("channel") else { throw section.error("channel", node, "required") }
        var route = Route(kinds: nil, tiers: nil, routes: nil, channel: channel)
        guard let match = section["match"] else { return route }
        let conditions = try Section(match, file: file, key: "notifier.routes.match", known: ["kind", "tier", "route"])
        if let kinds = try conditions.texts("kind") {
            route.kinds = Set(
                try kinds.map { (text) throws(ConfigError) -> TaskKind in
                    guard let kind = TaskKind(rawValue: text) else {
                        throw conditions.error(
                            "kind", match,
                            "unknown kind '\(text)' (\(TaskKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    return kind
                })
        }
        if let tiers = try conditions.texts("tier") {
            route.tiers = Set(
                try tiers.map { (text) throws(ConfigError) -> Tier in
                    guard let tier = Tier(rawValue: text) else {
                        throw conditions.error("tier", match, "unknown tier '\(text)' (low, moderate, high, imminent)")
                    }
                    return tier
                })
        }
        route.routes = try conditions.texts("route").map(Set.init)
        return route
    }
}

/// A YAML mapping of the configuration read strictly: unknown keys refused, errors naming
/// the dotted key and its line.
struct Section {
    let file: String
    let key: String
    let fields: [String: Node]

    init(_ node: Node, file: String, key: String, known: [String]) throws(ConfigError) {
        self.file = file
        self.key = key
        guard let mapping = node.mapping else {
            throw ConfigError(file: file, key: key, line: node.mark.map { $0.line }, "must be a mapping")
        }
        var fields: [String: Node] = [:]
        for (name, value) in mapping {
            guard let text = name.string, known.contains(text) else {
                throw ConfigError(
                    file: file, key: "\(key).\(name.string ?? "?")", line: name.mark.map { $0.line },
                    "unknown key (known keys: \(known.joined(separator: ", ")))")
            }
            fields[text] = value
        }
        self.fields = fields
    }

    subscript(name: String) -> Node? { fields[name] }

    func error(_ name: String, _ node: Node, _ problem: String) -> ConfigError {
        ConfigError(file: file, key: "\(key).\(name)", line: node.mark.map { $0.line }, problem)
    }

    func text(_ name: String) throws(ConfigError) -> String? {
        guard let node = fields[name] else { return nil }
        guard let text = node.scalar?.string, !text.isEmpty else { throw error(name, node, "must be non-empty text") }
        return text
    }

    /// One text or a list of texts.
    func texts(_ name: String) throws(ConfigError) -> [String]? {
        guard let node = fields[name] else { return nil }
        if let text = node.scalar?.string { return [text] }
        guard let items = node.sequence?.compactMap(\.string), !items.isEmpty, items.count == node.sequence?.count
        else { throw error(name, node, "must be text or a list of texts") }
        return items
    }

    /// A span such as `500ms`, `30s`, `4h`.
    func span(_ name: String) throws(ConfigError) -> TimeSpan? {
        guard let text = try text(name) else { return nil }
        if text.hasSuffix("ms"), let value = Double(text.dropLast(2)),
            let span = TimeSpan(checkedSeconds: value / 1000),
            span.microseconds > 0
        {
            return span
        }
        guard let span = RuleFileParser.duration(text), span.microseconds > 0 else {
            throw error(name, fields[name] ?? Node(""), "'\(text)' is not a duration (500ms, 30s, 5m, 4h, 1d)")
        }
        return span
    }
}
