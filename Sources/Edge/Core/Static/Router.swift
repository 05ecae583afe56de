#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Picks the route for a request path: the longest matching prefix wins, as with nginx prefix locations.
public struct Router: Sendable {
    /// A matched route and the part of the path below its prefix.
    public struct Match: Sendable {
        /// Index of the route in the config's `routes` (stable, so caches can key on it).
        public var routeIndex: Int
        /// The matched route.
        public var route: RouteConfig
        /// Decoded path below the prefix, without a leading `/`; empty for the route's directory itself.
        public var relativePath: Substring
    }

    private let routes: [(index: Int, route: RouteConfig)]

    /// A router over `routes`.
    public init(routes: [RouteConfig]) {
        self.routes = routes.enumerated().map { ($0.offset, $0.element) }.sorted { $0.route.prefix.count > $1.route.prefix.count }
    }

    /// The route for `path`, or `nil` when no prefix matches.
    public func match(_ path: RequestPath) -> Match? {
        // Byte-wise comparison: `String.hasPrefix` applies Unicode equivalence, which is slower and not what a
        // file system does.
        let utf8 = path.decoded.utf8
        for (index, route) in routes where Self.hasPrefix(utf8, route.prefix.utf8) {
            var relative = path.decoded[utf8.index(utf8.startIndex, offsetBy: route.prefix.utf8.count)...]
            while relative.first == "/" { relative = relative.dropFirst() }
            return Match(routeIndex: index, route: route, relativePath: relative)
        }
        return nil
    }

    /// `memcmp` over the contiguous bytes both strings have once built; the generic `starts(with:)` walked them
    /// through their index types, a few hundred instructions per request.
    private static func hasPrefix(_ path: String.UTF8View, _ prefix: String.UTF8View) -> Bool {
        guard prefix.count <= path.count else { return false }
        let compared: Bool?? = path.withContiguousStorageIfAvailable { path in
            prefix.withContiguousStorageIfAvailable { prefix in
                prefix.isEmpty || memcmp(path.baseAddress!, prefix.baseAddress!, prefix.count) == 0
            }
        }
        if case .some(.some(let result)) = compared { return result }
        return path.starts(with: prefix)  // a bridged string without contiguous bytes
    }
}
