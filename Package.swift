// swift-tools-version:6.0
import PackageDescription

/// Vigil's version, written here and nowhere else: `vigil --version` prints it and `scripts/package`
/// names the Debian package after it (a Debian version: `~dev` sorts before the release).
/// `VIGIL_VERSION=… make deb` builds a binary and a package carrying another one.
let version = Context.environment["VIGIL_VERSION"] ?? "0.1.0~dev"

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigil", targets: ["vigil"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // libsystemd (sd_notify, sd_watchdog_enabled, sd_journal_sendv) from Debian's libsystemd-dev.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // Linux interfaces the Glibc module leaves out (pipe2, posix_spawn close-from).
        .systemLibrary(name: "CLinux"),
        // The version (above), compiled into one C function so that changing it relinks only.
        .target(name: "CVigilVersion", cSettings: [.define("VIGIL_VERSION", to: "\"\(version)\"")]),
        // The pure core: event model, strict JSON, validation, vocabulary, time. No I/O.
        .target(
            name: "VigilCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // The I/O shell: configuration, spool, store, systemd, the ingest loop, the notifier.
        .target(
            name: "VigilShell",
            dependencies: [
                "VigilCore",
                "CSystemd",
                "CLinux",
                "CVigilVersion",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // `vigil api`, the team's front door (the only process that listens on the network): a writer
        // into the spool and a reader of the store, never the store's owner.
        .target(
            name: "VigilAPI",
            dependencies: [
                "VigilCore",
                "VigilShell",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The PostgreSQL store (issue 17, docs/decisions/0011-store-seam.md): its connection settings,
        // its versioned schema and `vigil store migrate`, which copies a SQLite store into it.
        .target(
            name: "VigilPostgres",
            dependencies: [
                "VigilCore",
                "VigilShell",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The benchmarks behind `vigil bench` and their fixtures (a loopback webhook receiver):
        // kept out of VigilShell so the daemon's library holds no scaffolding.
        .target(
            name: "VigilBench",
            dependencies: [
                "VigilCore",
                "VigilShell",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The `vigil` command line: thin ArgumentParser commands over VigilShell (and VigilBench).
        .executableTarget(
            name: "vigil",
            dependencies: [
                "VigilShell",
                "VigilAPI",
                "VigilBench",
                "VigilPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The daemon and the notifier with test-only faults and clocks (`vigil-testd`, see
        // docs/decisions/0005-lifecycle.md): built for the test suites, never installed.
        .executableTarget(
            name: "vigil-testd",
            dependencies: [
                "VigilShell",
                "VigilPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer targets (scripts/fuzz builds them with -sanitize=fuzzer,address): the check-in
        // decoder and the rule language. Without the sanitizer they build and refuse to run.
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["VigilCore", "CFuzzDriver"]),
        .executableTarget(name: "FuzzCheckIn", dependencies: ["VigilCore", "FuzzSupport"]),
        .executableTarget(name: "FuzzRules", dependencies: ["VigilCore", "FuzzSupport"]),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"]),
        // Unit tests of the shell's pieces on temporary directories and stores; no binary.
        .testTarget(
            name: "VigilShellTests",
            dependencies: [
                "VigilCore",
                "VigilShell",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VigilIntegrationTests",
            dependencies: [
                "vigil", "vigil-testd", "VigilCore", "VigilShell", "VigilPostgres", "VigilBench",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            // Helpers the tests run with python3 (a journald stand-in, a webhook receiver, the JSON Schema
            // check, the headless-Chromium look at the report).
            exclude: [
                "Support/journal_receiver.py", "Support/webhook_receiver.py", "Support/validate_schema.py",
                "Support/report_browser.py", "Support/boot_systemd.sh", "Support/worklist_browser.py",
                "Support/validate_openapi.py", "Support/headless_chromium.py", "Support/tcp_forwarder.py",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
