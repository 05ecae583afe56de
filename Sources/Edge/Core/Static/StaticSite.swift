import NIOCore
import NIOHTTP1

/// The static part of Edge: routes requests to directories and answers them from the open-file cache or disk.
///
/// A class, though nothing in it changes: every request calls into it through the shared settings, and as a struct
/// it was copied for each call, a retain and a release for each of its arrays.
public final class StaticSite: Sendable {
    /// A response plus, when the request was refused for a reason worth a log line, that reason.
    public struct Outcome {
        public var response: Response
        /// Set for refused paths (attacks, symlink escapes); goes to the error log at warning level.
        public var refusal: String?
        /// Set when the server failed (a file it could not open); goes to the error log at error level.
        public var failure: String?
    }

    private let router: Router
    private let rootRealPaths: [String]
    private let routes: [RouteConfig]
    private let lookup: FileLookup

    /// Whether `file.gz` beside `file` is sent to clients that accept gzip (`compression.precompressed`).
    private let precompressed: Bool

    /// A site over `routes`; each route's directory is resolved with `realpath` once here.
    /// `rateLimits` holds each route's limit by its index in `routes` (`RateLimitZones.limits(for:)`).
    init(
        routes: [RouteConfig], precompressed: Bool = false, lookup: FileLookup = FileLookup(),
        rateLimits: [RouteRateLimit?] = []
    ) {
        self.precompressed = precompressed
        self.rateLimits = rateLimits
        self.hasRateLimits = rateLimits.contains { $0 != nil }
        self.routes = routes
        self.router = Router(routes: routes)
        self.rootRealPaths = routes.map { FileLookup.realPath($0.dir) ?? $0.dir }
        self.hasUpstreams = routes.contains { $0.upstream != nil }
        self.hasAccessRules = routes.contains { !$0.access.isEmpty }
        self.lookup = lookup
    }

    /// Whether any route proxies (so requests must be routed before their end).
    public let hasUpstreams: Bool
    /// Whether any route has `allow` or `deny` (so requests must be checked against them).
    public let hasAccessRules: Bool

    /// Whether any route has a `rate_limit` (so requests must be counted when their head arrives).
    let hasRateLimits: Bool
    private let rateLimits: [RouteRateLimit?]

    /// The rate limit of the route for `uri`, routed as `upstream(for:)` routes.
    func rateLimit(for uri: String) -> RouteRateLimit? {
        guard hasRateLimits, let path = routedPath(uri), let index = router.routeIndex(for: path) else { return nil }
        return rateLimits[index]
    }

    /// The rule of the route for `uri` that refuses `client` (`deny 10.0.0.0/8`, `not in allow`), or `nil`. Routed
    /// as `upstream(for:)` routes, so a percent-encoded path cannot reach another route's files past its rules.
    public func accessRefusal(for uri: String, client: String) -> String? {
        guard hasAccessRules, let path = routedPath(uri) else { return nil }
        return router.accessRules(for: path)?.refusal(of: client)
    }

    /// The upstream a request target is proxied to, if its route is a proxied one.
    ///
    /// Routing uses the decoded path, so `/static/%2e%2e/app` cannot pick another route than the one it names; a
    /// plain path (the usual case) is its own decoding and skips the copy. Dotfile paths are routed (an app may
    /// serve `/.well-known/`); only a directory route refuses them.
    public func upstream(for uri: String) -> String? {
        guard hasUpstreams, let path = routedPath(uri) else { return nil }
        return router.upstream(for: path)
    }

    /// The index in `routes` of the route a request target is routed to (for the `route` label of Edge's metrics);
    /// `nil` when none matches or the target cannot be decoded. A plain path is matched on its bytes where they
    /// lie, with no string made.
    func routeIndex(forTarget uri: String) -> Int? {
        // The usual target (origin form, plain path) is matched on the bytes it arrived in.
        if case .some(.some(let index)) = uri.utf8.withContiguousStorageIfAvailable(plainRouteIndex) { return index }
        return routedPath(uri).flatMap(router.routeIndex(for:))
    }

    /// The route of an origin-form target whose path is plain, matched on its bytes (`.some(nil)`: no route);
    /// `nil` for any other target, which is routed by decoding it.
    private func plainRouteIndex(_ bytes: UnsafeBufferPointer<UInt8>) -> Int?? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let end = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        let path = UnsafeBufferPointer(rebasing: bytes[..<end])
        guard RequestPath.isPlain(path) else { return nil }
        return .some(router.routeIndex(forPlainPath: path))
    }

    /// The decoded path a request target is routed by; `nil` for a target that cannot be decoded (refused later).
    private func routedPath(_ uri: String) -> RequestPath? {
        guard let target = RequestTarget(uri) else { return nil }
        if RequestPath.isPlain(target.path) { return RequestPath(decoded: String(target.path)) }
        guard case .success(let path) = RequestPath.decode(target.path, allowingDotfiles: true) else { return nil }
        return path
    }

    /// The outcome for one request, with the index of the route that answered in its response. `cache` belongs to
    /// the calling event loop.
    public func respond(method: HTTPMethod, uri: String, facts: RequestHeaderFacts, cache: OpenFileCache) -> Outcome {
        var routeIndex = -1
        var outcome = route(method: method, uri: uri, facts: facts, cache: cache, routeIndex: &routeIndex)
        outcome.response.routeIndex = routeIndex
        return outcome
    }

    private func route(
        method: HTTPMethod, uri: String, facts: RequestHeaderFacts, cache: OpenFileCache, routeIndex: inout Int
    ) -> Outcome {
        let isRead = method.isGET || method.isHEAD
        let isHead = method.isHEAD
        guard let target = RequestTarget(uri) else {
            return Outcome(
                response: .simple(.badRequest, closesConnection: true, omitBody: isHead), refusal: "bad request target")
        }
        if isRead, let cached = cache.validEntry(for: target.pathKey) {
            routeIndex = cached.routeIndex
            return Outcome(response: respond(to: cached, isHead: isHead, facts: facts, cache: cache))
        }
        let path: RequestPath
        switch RequestPath.decode(target.path) {
        case .success(let decoded): path = decoded
        case .failure(.malformed(let reason)):
            return Outcome(response: .simple(.badRequest, omitBody: isHead), refusal: reason)
        case .failure(.hidden(let reason)):
            return Outcome(response: .simple(.notFound, omitBody: isHead), refusal: reason)
        }
        guard let match = router.match(path) else {
            return Outcome(response: .simple(.notFound, omitBody: isHead))
        }
        routeIndex = match.routeIndex
        guard isRead else {
            return Outcome(response: .simple(.methodNotAllowed, headers: [("Allow", "GET, HEAD")]))
        }
        let result = lookup.lookup(
            relativePath: match.relativePath, root: match.route.dir, rootRealPath: rootRealPaths[match.routeIndex],
            wantsDirectory: path.hasTrailingSlash, cacheControl: match.route.cacheControl)
        switch result {
        case .file(let file):
            file.routeIndex = match.routeIndex
            cache.insert(file, for: target.pathKey)
            return Outcome(response: respond(to: file, isHead: isHead, facts: facts, cache: cache))
        case .directoryWithoutSlash:
            let location = String(target.path) + "/" + (target.query.map { "?" + $0 } ?? "")
            return Outcome(response: .simple(.movedPermanently, headers: [("Location", location)], omitBody: isHead))
        case .notFound(let reason) where reason.contains("outside"):
            return Outcome(response: .simple(.notFound, omitBody: isHead), refusal: reason)
        case .notFound:
            return Outcome(response: .simple(.notFound, omitBody: isHead))
        case .forbidden(let reason):
            return Outcome(response: .simple(.forbidden, omitBody: isHead), refusal: reason)
        case .failed(let reason):
            return Outcome(response: .simple(.internalServerError, omitBody: isHead), failure: reason)
        }
    }

    /// The response for a found file: its precompressed variant when there is one the client can take, otherwise
    /// the file itself (which the compression filter may still gzip).
    private func respond(
        to file: CachedFile,
        isHead: Bool,
        facts: RequestHeaderFacts,
        cache: OpenFileCache
    ) -> Response {
        let response = StaticFileResponder.respond(to: file, isHead: isHead, facts: facts)
        // Ranges are served from the uncompressed file; conditional answers (304, 412) come from its validators.
        guard precompressed, facts.acceptsGzip, facts.range == nil, response.status == .ok,
            let variant = precompressedVariant(of: file, cache: cache)
        else { return response }
        cache.metrics?.count(.precompressed)
        if isHead {
            return Response(status: .ok, head: variant.fullResponseHead, body: .none(length: variant.identity.size))
        }
        if let contents = variant.contents {
            return .whole(variant, contents: contents)
        }
        return Response(
            status: .ok, head: variant.fullResponseHead,
            body: .file(path: variant.path, identity: variant.identity, offset: 0, length: variant.identity.size))
    }

    /// `file.gz`, from the cache or disk, if it exists and is not older than `file` (as `file` is now).
    private func precompressedVariant(of file: CachedFile, cache: OpenFileCache) -> CachedFile? {
        let key = file.precompressedVariantKey
        let variant: CachedFile
        if let linked = file.precompressedVariant, linked.cacheKey != nil,
            let valid = cache.revalidated(linked, key: key),
            valid.variantOf == file.identity
        {
            variant = valid
        } else if cache.knowsNoPrecompressedVariant(of: file) {
            // Looked for lately and not there: not again until the interval is over.
            return nil
        } else if let cached = cache.validEntry(for: key), cached.variantOf == file.identity {
            variant = cached
            file.precompressedVariant = cached
        } else if let loaded = lookup.precompressedSibling(of: file) {
            cache.insert(loaded, for: key)
            variant = loaded
            file.precompressedVariant = loaded
        } else {
            cache.noteMissingPrecompressedVariant(of: file)
            return nil
        }
        let notOlder =
            (variant.identity.modifiedSeconds, variant.identity.modifiedNanoseconds)
            >= (file.identity.modifiedSeconds, file.identity.modifiedNanoseconds)
        return notOlder ? variant : nil
    }

}

/// A request target split into path and query; absolute-form targets (`http://host/path`) are reduced to the path.
struct RequestTarget {
    /// The raw (still percent-encoded) path.
    var path: Substring
    /// The raw query without `?`, if any.
    var query: Substring?
    /// The path as a `String`, used as the cache key (no allocation when the target has no query).
    var pathKey: String

    init?(_ uri: String) {
        // Byte-level scanning: Character-based `firstIndex(of:)` on String costs grapheme breaking per byte.
        let utf8 = uri.utf8
        var pathStart = utf8.startIndex
        if utf8.first != UInt8(ascii: "/") {
            // RFC 9112 §3.2.2: servers must accept the absolute form (`http://host/path`).
            let lowered = uri.lowercased()
            guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else { return nil }
            let authorityStart = utf8.index(utf8.startIndex, offsetBy: lowered.hasPrefix("http://") ? 7 : 8)
            pathStart =
                utf8[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }
                ?? utf8.endIndex
            if pathStart == utf8.endIndex || utf8[pathStart] == UInt8(ascii: "?") {
                // No path: the target is the root, keeping any query.
                let query = pathStart == utf8.endIndex ? nil : Substring(utf8[utf8.index(after: pathStart)...])
                self.path = "/"
                self.query = query
                self.pathKey = "/"
                return
            }
        }
        if let questionMark = Self.firstQuestionMark(in: uri, from: pathStart) {
            path = Substring(utf8[pathStart..<questionMark])
            query = Substring(utf8[utf8.index(after: questionMark)...])
            pathKey = String(path)
        } else {
            path = Substring(utf8[pathStart...])
            query = nil
            pathKey = pathStart == utf8.startIndex ? uri : String(path)
        }
    }

    /// The first `?` at or after `start`. A native string's bytes are scanned directly: the generic
    /// `UTF8View.firstIndex(of:)` cost more than the rest of routing a cached file.
    private static func firstQuestionMark(in uri: String, from start: String.Index) -> String.Index? {
        let utf8 = uri.utf8
        let startOffset = utf8.distance(from: utf8.startIndex, to: start)
        let found: Int?? = utf8.withContiguousStorageIfAvailable { bytes in
            bytes[startOffset...].firstIndex(of: UInt8(ascii: "?"))
        }
        guard let found else { return utf8[start...].firstIndex(of: UInt8(ascii: "?")) }
        return found.map { utf8.index(utf8.startIndex, offsetBy: $0) }
    }
}
