// swift-tools-version:6.0
import PackageDescription

// Release builds drop runtime exclusivity checks on our own modules: the hot paths are
// single-threaded per event loop and the checks cost measurable throughput.
let releaseSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

// Release executables do not export every symbol dynamically (nothing loads them as a library): the dynamic symbol
// table shrinks from 2.2 MB to 20 KB, and each process (Edge, every AppServer worker) starts about 1 MiB smaller.
// (Packed relocations, lld's `-z pack-relative-relocs`, would save 2.5 MiB more, but the binary would then need
// glibc 2.36 on the host running it; Ubuntu 22.04 has 2.35.)
let releaseLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(configuration: .release))
]

let package = Package(
    name: "EdgeAppServer",
    platforms: [.macOS(.v15)],  // Synchronization's Mutex (Linux has it on every version)
    products: [
        .executable(name: "edge", targets: ["edge"]),
        .executable(name: "appserver", targets: ["appserver"]),
        // What a user's own package depends on to host its app under AppServer.
        .library(name: "AppServer", targets: ["AppServer"]),
        // Testing a user's app in process, without sockets (like HummingbirdTesting).
        .library(name: "AppServerTesting", targets: ["AppServerTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        // zlib with streaming and explicit flushes on ByteBuffers (Edge's gzip; docs/compression.md says why).
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        // TLS termination (BoringSSL) and HTTP/2 negotiated by ALPN.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        // Metrics: recorded through the swift-metrics API, exposed in Prometheus' text format by swift-prometheus.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // W3C Trace Context: Edge passes on (or starts) `traceparent` and logs its trace id.
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
        // The reference app's database (SQLite's calls run on a thread pool, off the worker's event loop).
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        // ... or PostgreSQL, without blocking a worker's event loop (libpq's calls block).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "Shared",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Shared",
            swiftSettings: releaseSettings
        ),
        .target(
            name: "EdgeCore",
            dependencies: [
                "Shared",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                // Key/certificate pairing checks read the key's public half (RSA through _CryptoExtras).
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            path: "Sources/Edge/Core",
            swiftSettings: releaseSettings
        ),
        .executableTarget(
            name: "edge",
            dependencies: [
                "EdgeCore",
                "Shared",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Edge/Main",
            swiftSettings: releaseSettings,
            linkerSettings: releaseLinkerSettings
        ),
        .target(
            name: "AppServer",
            dependencies: [
                "Shared",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            path: "Sources/AppServer/Runtime",
            swiftSettings: releaseSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        .executableTarget(
            name: "appserver",
            dependencies: [
                "AppServer",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/AppServer/ReferenceApp",
            swiftSettings: releaseSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")],
            linkerSettings: releaseLinkerSettings
        ),
        .target(
            name: "AppServerTesting",
            dependencies: [
                "AppServer",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/AppServer/Testing"
        ),
        // Helpers shared by the test targets (temp directories); not shipped.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // Fuzz targets (scripts/fuzz builds them with libFuzzer; a plain build replays files, as the suite does).
        .executableTarget(
            name: "fuzz",
            dependencies: ["Shared", "EdgeCore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/Fuzz", exclude: ["Corpus"]),
        .testTarget(
            name: "SharedTests",
            dependencies: [
                "Shared",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "EdgeCoreTests",
            dependencies: [
                "EdgeCore",
                "Shared",
                "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        .testTarget(
            name: "EdgeEndToEndTests",
            dependencies: ["Shared", "TestSupport", .product(name: "CompressNIO", package: "compress-nio")],
            // The HTTP/2 attack client the tests run (standard-library Python).
            exclude: ["Support/h2_attack.py", "Support/close_notify.py"]),
        .testTarget(
            name: "AppServerTests",
            dependencies: [
                "AppServer", "Shared", "TestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .testTarget(name: "AppServerEndToEndTests", dependencies: ["TestSupport"]),
        // The reference app's own logic (its upload form reader), imported from the executable target.
        .testTarget(
            name: "ReferenceAppTests",
            dependencies: [
                "appserver", "AppServer", "AppServerTesting", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
    ]
)
