import Foundation
import VigilCore

/// `vigil api`'s configuration, and what the notifier needs of it for action links: the `api:`
/// section of vigil.yaml.
///
/// ```yaml
/// api:
///   listen: 127.0.0.1:8470          # the API and the worklist page
///   metrics_listen: 127.0.0.1:9470  # GET /metrics only (loopback by default)
///   tokens_file: /etc/vigil/api-tokens   # default: api-tokens beside this file
///   public_url: https://vigil.example.org   # enables action links in alerts
///   link_secret_file: /etc/vigil/link.secret  # HMAC key of the links (required with public_url)
///   link_ttl: 72h
///   rate_per_minute: 120            # requests per token (429 beyond)
///   tls: {certificate: /etc/vigil/tls/cert.pem, key: /etc/vigil/tls/key.pem}
///   store: {backend: postgres, url: postgres://vigil_api@db/vigil, password_file: /etc/vigil/api-pg.password}
/// ```
///
/// `store` (PostgreSQL only): the API's own login to the store, a role that may only read it
/// (docs/scale-out.md), so the one process that listens on the network cannot write the store
/// with the daemon's login; without it the API uses the configuration's `store:`.
public struct APIConfig: Sendable {
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    public var listen = Address(host: "127.0.0.1", port: 8470)
    public var metricsListen = Address(host: "127.0.0.1", port: 9470)
    public var tokensFile: String
    /// The API's address as the team reaches it; nil: alerts carry no action links.
    public var publicURL: String?
    /// The HMAC key of action links (from `link_secret_file`).
    public var linkSecret: [UInt8]?
    public var linkTTL = TimeSpan.hours(72)
    public var ratePerMinute = 120
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// The API's own login to a PostgreSQL store; nil: the configuration's `store:`.
    public var store: StoreLocation?

    public static let keys = [
        "listen", "metrics_listen", "tokens_file", "public_url", "link_secret_file", "link_ttl", "rate_per_minute",
        "tls", "store",
    ]

    /// The defaults for a configuration file at `origin` (tokens beside it).
    static func defaults(origin: String) -> APIConfig {
        let directory =
            origin.hasPrefix("/")
            ? (origin as NSString).deletingLastPathComponent : FileManager.default.currentDirectoryPath
        return APIConfig(tokensFile: directory + "/api-tokens")
    }

    /// The links a task's alert carries, when `public_url` and the secret are set.
    public var links: ActionLinks? {
        guard let publicURL, let linkSecret else { return nil }
        return ActionLinks(baseURL: publicURL, secret: linkSecret, ttl: linkTTL)
    }

    /// The `api:` section of the configuration file `config` came from (the defaults without one).
    public static func load(for config: VigilConfig) throws(SourceErrors) -> APIConfig {
        guard config.origin != VigilConfig.embeddedOrigin else {
            var defaults = defaults(origin: config.state + "/vigil.yaml")
            defaults.tokensFile = config.state + "/api-tokens"
            return defaults
        }
        let text = try VigilConfig.readText(config.origin, what: "the configuration")
        return try parse(text, file: config.origin)
    }

    static func parse(_ text: String, file: String) throws(SourceErrors) -> APIConfig {
        let reader = YAMLReader(path: file, text: text)
        var config = defaults(origin: VigilConfig.absolute(file))
        if let section = reader.root(known: VigilConfig.keys)?.map("api", known: keys) {
            parse(section, into: &config, base: (VigilConfig.absolute(file) as NSString).deletingLastPathComponent)
        }
        try reader.finish()
        return config
    }

    static func parse(_ section: YAMLMap, into config: inout APIConfig, base: String) {
        func path(_ text: String) -> String { text.hasPrefix("/") ? text : base + "/" + text }
        if let address = address("listen", in: section) { config.listen = address }
        if let address = address("metrics_listen", in: section) { config.metricsListen = address }
        if let file = section.string("tokens_file") { config.tokensFile = path(file) }
        if let url = section.string("public_url") {
            if let parsed = URL(string: url), parsed.scheme == "https" || parsed.scheme == "http", parsed.host != nil,
                parsed.user == nil, parsed.query == nil
            {
                config.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            } else {
                section.report("public_url", "must be an http:// or https:// URL without credentials or query")
            }
        }
        if let file = section.string("link_secret_file") {
            config.linkSecret = NotifierConfig.secret(path(file), in: section, key: "link_secret_file")
        } else if config.publicURL != nil {
            section.report("public_url", "needs link_secret_file: the key that signs action links")
        }
        config.linkTTL = NotifierConfig.span("link_ttl", in: section) ?? config.linkTTL
        if let value = section["rate_per_minute"] {
            if let rate = value.int, rate > 0 {
                config.ratePerMinute = rate
            } else {
                section.report("rate_per_minute", "must be a positive whole number")
            }
        }
        if let store = section.map("store", known: StoreLocation.keys) {
            switch StoreLocation.parse(store, base: base) {
            case .postgres(let url, let passwordFile)?: config.store = .postgres(url: url, passwordFile: passwordFile)
            case .sqlite?: section.report("store", "is the API's own PostgreSQL login: backend: postgres")
            case nil: break
            }
        }
        if let tls = section.map("tls", known: ["certificate", "key"]) {
            config.tlsCertificate = tls.string("certificate").map(path)
            config.tlsKey = tls.string("key").map(path)
            if config.tlsCertificate == nil || config.tlsKey == nil {
                section.report("tls", "needs both certificate and key (PEM files)")
            }
        }
    }

    /// `HOST:PORT` (an IPv6 host in brackets).
    static func address(_ key: String, in section: YAMLMap) -> Address? {
        guard let text = section.string(key) else { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port), colon > text.startIndex
        else {
            section.report(key, "must be HOST:PORT (127.0.0.1:8470, [::1]:8470, 0.0.0.0:8470)")
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return Address(host: host, port: port)
    }
}
