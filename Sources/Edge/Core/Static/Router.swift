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

    /// The routes, longest prefix first, with their index in the config.
    private let routes: [(index: Int, route: RouteConfig)]
    /// The same routes' prefixes, scanned per request: walking `routes` itself copied every route it passed (a
    /// retain and release per string in it).
    private let prefixes: [String]
    /// The same prefixes' bytes, for matching a request's own bytes without making a string.
    private let prefixBytes: [[UInt8]]

    /// A router over `routes`.
    public init(routes: [RouteConfig]) {
        self.routes = routes.enumerated().map { ($0.offset, $0.element) }.sorted {
            $0.route.prefix.count > $1.route.prefix.count
        }
        self.prefixes = self.routes.map(\.route.prefix)
        self.prefixBytes = prefixes.map { Array($0.utf8) }
    }

    /// The route for `path`, or `nil` when no prefix matches.
    public func match(_ path: RequestPath) -> Match? {
        let utf8 = path.decoded.utf8
        guard let position = firstMatch(utf8) else { return nil }
        let (index, route) = routes[position]
        var relative = path.decoded[utf8.index(utf8.startIndex, offsetBy: route.prefix.utf8.count)...]
        while relative.first == "/" { relative = relative.dropFirst() }
        return Match(routeIndex: index, route: route, relativePath: relative)
    }

    /// The access rules of the route for `path`, without building a `Match`.
    public func accessRules(for path: RequestPath) -> AccessRules? {
        guard let position = firstMatch(path.decoded.utf8) else { return nil }
        return routes[position].route.access
    }

    /// The index in the config's `routes` of the route for `path`, without building a `Match`.
    public func routeIndex(for path: RequestPath) -> Int? {
        guard let position = firstMatch(path.decoded.utf8) else { return nil }
        return routes[position].index
    }

    /// `routeIndex(for:)` for the bytes of a path that is its own decoding (`RequestPath.isPlain`).
    func routeIndex(forPlainPath path: UnsafeBufferPointer<UInt8>) -> Int? {
        for position in prefixBytes.indices {
            let matched = prefixBytes[position].withUnsafeBufferPointer { prefix in
                prefix.count <= path.count
                    && (prefix.isEmpty || memcmp(path.baseAddress!, prefix.baseAddress!, prefix.count) == 0)
            }
            if matched { return routes[position].index }
        }
        return nil
    }

    /// The upstream of the route for `path`, when that route proxies: what a request needs to know before its
    /// end, without building a `Match`.
    public func upstream(for path: RequestPath) -> String? {
        guard let position = firstMatch(path.decoded.utf8) else { return nil }
        return routes[position].route.upstream
    }

    /// The position of the longest matching prefix. Compared byte-wise: `String.hasPrefix` applies Unicode
    /// equivalence, which is slower and not what a file system does.
    private func firstMatch(_ path: String.UTF8View) -> Int? {
        for position in prefixes.indices where Self.hasPrefix(path, prefixes[position].utf8) { return position }
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
