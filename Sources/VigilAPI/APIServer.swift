import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import VigilCore
import VigilShell

/// `vigil api`: the team's front door, the only Vigil process that listens on the network. Two
/// servers in one `ServiceGroup`: the API and worklist page on `api.listen` (TLS when a certificate
/// is configured), and `/metrics` alone on `api.metrics_listen` (loopback by default). READY=1 once
/// both listen; the watchdog is fed while the store answers a read. SIGTERM or SIGINT stops it
/// gracefully.
public enum APIServer {
    /// `openStore`: `vigil api` passes VigilPostgres' `StoreViewsOpening.configured`.
    public static func main(
        configPath: String?, log: LogSetup.Target, level: Logger.Level, openStore: @escaping StoreViewsOpening.Opening
    ) async -> ExitStatus {
        LogSetup.bootstrap(log, level: level, identifier: "vigil-api")
        let logger = Logger(label: "vigil-api")
        if let missing = VigilConfig.missing(explicitPath: configPath) {
            printError(missing)
            return .config
        }
        let config: VigilConfig
        let api: APIConfig
        let vocabulary: Vocabulary
        do {
            config = try VigilConfig.resolve(explicitPath: configPath)
            api = try APIConfig.load(for: config)
            vocabulary = try VocabularyFile.load(rulesDirectory: config.rules)
        } catch {
            printError("\(error)")
            return error.exitStatus
        }
        // A store configuration that can never work is refused before listening (its check does no
        // I/O that can hang); a store not there yet answers 503 until it is.
        let opener: StoreViewsOpening.Opener
        do {
            var views = config
            if let own = api.store {
                guard case .postgres = config.store else {
                    printError("\(config.origin): api.store is a login to PostgreSQL, and store.backend is sqlite")
                    return .config
                }
                views.store = own
            }
            opener = try openStore(views, logger)
        } catch let error as any ExitStatusProviding {
            printError("\(error)")
            return error.exitStatus
        } catch {
            printError("\(error)")
            return .config
        }
        do {
            try await run(
                config: config, api: api, vocabulary: vocabulary, openStore: opener, clock: SystemClock(),
                logger: logger)
            return .ok
        } catch {
            logger.log(.critical, .stopping, "vigil api cannot start", ["error": "\(error)"])
            if log != .stderr { printError("\(error)") }
            return .unavailable
        }
    }

    /// Serves until a graceful shutdown.
    public static func run(
        config: VigilConfig, api: APIConfig, vocabulary: Vocabulary, openStore: @escaping StoreViewsOpening.Opener,
        clock: any WallClock, logger: Logger
    ) async throws {
        let door = FrontDoor(
            config: config, api: api, vocabulary: vocabulary, openStore: openStore, clock: clock, logger: logger)
        let systemd = SystemdNotifier()
        let pacer = WatchdogPacer(interval: systemd.watchdogPingInterval())
        let router = Router()
        APIRoutes.add(to: router, door: door)
        WorklistPage.add(to: router, door: door, sessions: Sessions(secure: api.tlsCertificate != nil))
        let metrics = MetricsExporter()
        let metricsRouter = Router()
        metricsRouter.get("/metrics") { _, _ in
            let now = clock.now()
            let snapshot = try await door.read { store throws(StoreError) in try store.metrics(at: now) }
            let text = metrics.render(snapshot, spool: SpoolDirectory(root: config.spool), now: now)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let listening = Listening(count: 2) {
            systemd.ready(status: "serving on \(api.listen.host):\(api.listen.port)")
            logger.log(
                .notice, .apiStarted, "vigil api started",
                [
                    "listen": "\(api.listen.host):\(api.listen.port)",
                    "metrics": "\(api.metricsListen.host):\(api.metricsListen.port)",
                    "tls": "\(api.tlsCertificate != nil)", "links": "\(api.links != nil)",
                ])
        }
        var server = HTTPServerBuilder.http1()
        if let certificate = api.tlsCertificate, let key = api.tlsKey {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            server = try .tls(.http1(), tlsConfiguration: tls)
        }
        let front = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(api.listen.host, port: api.listen.port), serverName: "vigil"),
            onServerRunning: { _ in await listening.one() }, logger: logger.quieter)
        let scrape = Application(
            router: metricsRouter,
            configuration: .init(
                address: .hostname(api.metricsListen.host, port: api.metricsListen.port), serverName: "vigil"),
            onServerRunning: { _ in await listening.one() }, logger: logger.quieter)
        let services: [any Service] = [
            WatchdogService(pacer: pacer, systemd: systemd),
            StoreHeartbeat(door: door, pacer: pacer),
            front, scrape,
        ]
        try await ShutdownSignals().run(
            ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger.quieter)))
        systemd.stopping()
    }
}

/// Calls `ready` once `count` servers listen.
actor Listening {
    private var left: Int
    private let ready: @Sendable () -> Void

    init(count: Int, ready: @escaping @Sendable () -> Void) {
        self.left = count
        self.ready = ready
    }

    func one() {
        left -= 1
        if left == 0 { ready() }
    }
}

/// Feeds the watchdog while the API can do its job: taking check-ins (the spool there to write to)
/// or, failing that, showing the store (a read of it answered). The spool is looked at first, so
/// a store that is slow to answer does not starve the watchdog while check-ins are still taken.
struct StoreHeartbeat: Service {
    let door: FrontDoor
    let pacer: WatchdogPacer

    func run() async throws {
        let step = pacer.slice(atMost: .seconds(5))
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let healthy =
                access(door.config.spool + "/new", W_OK) == 0
                ? true : (try? await door.read { store throws(StoreError) in try store.status() }) != nil
            if healthy { pacer.beat() }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .microseconds(step.microseconds)) }
        }
    }
}
