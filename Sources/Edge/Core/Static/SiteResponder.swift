import Logging
import NIOCore
import Shared

/// Answers a request for one of Edge's own routes: the site's response, compressed where it may be, with its file
/// opened when the body is sent from disk. Refusals and failures are logged here, with the client and the URI.
///
/// Static functions rather than a value holding the connection's parts: making one cost a retain of each part on
/// every request.
enum SiteResponder {
    /// The response to `head`, and the descriptor its body is sent from if it is a file on disk. `peer` is the
    /// client's address, for the log lines. Inlined into the connection's answer, as it was part of it: a call of
    /// its own copied the response out and cost a cached file about 1 % of its instructions.
    @inline(__always)
    static func respond(
        to head: RequestHead, facts: RequestHeaderFacts, settings: ConnectionSettings, resources: LoopResources,
        allocator: @autoclosure () -> ByteBufferAllocator, peer: String
    ) -> (Response, OpenDescriptor?) {
        var outcome = lookUp(head, facts: facts, settings: settings, resources: resources, allocator: allocator())
        let descriptor = openFile(
            of: &outcome, secondLookFor: head, facts: facts, settings: settings, resources: resources,
            allocator: allocator())
        logOutcome(outcome, of: head, settings: settings, peer: peer)
        return (outcome.response, descriptor)
    }

    /// The response to `head` when nothing of it is on disk (a file from the cache, a redirect, a refusal, an error),
    /// logged as `respond` logs; `nil` when its body is a file to open, with nothing counted or logged, for the caller
    /// to answer through `respond`. HTTP/2 answers the first kind on the connection itself (`HTTP2FastPath`).
    static func respondFromMemory(
        to head: RequestHead, facts: RequestHeaderFacts, settings: ConnectionSettings, resources: LoopResources,
        allocator: @autoclosure () -> ByteBufferAllocator, peer: String
    ) -> Response? {
        let counts = resources.metrics?.lookupCounts
        let outcome = lookUp(head, facts: facts, settings: settings, resources: resources, allocator: allocator())
        if case .file = outcome.response.body {
            if let counts { resources.metrics?.restore(counts) }
            return nil
        }
        logOutcome(outcome, of: head, settings: settings, peer: peer)
        return outcome.response
    }

    private static func logOutcome(
        _ outcome: StaticSite.Outcome, of head: RequestHead, settings: ConnectionSettings, peer: String
    ) {
        if let refusal = outcome.refusal {
            settings.logger.warning(
                "refused request", metadata: ["client": "\(peer)", "uri": "\(head.target)", "reason": "\(refusal)"])
        }
        if let failure = outcome.failure {
            settings.logger.error(
                "cannot serve file", metadata: ["client": "\(peer)", "uri": "\(head.target)", "reason": "\(failure)"])
        }
    }

    private static func lookUp(
        _ head: RequestHead, facts: RequestHeaderFacts, settings: ConnectionSettings, resources: LoopResources,
        allocator: @autoclosure () -> ByteBufferAllocator
    ) -> StaticSite.Outcome {
        var outcome = settings.site.respond(method: head.method, uri: head.target, facts: facts, cache: resources.files)
        // The compression filter may answer with another response (the file's kept gzip or `Vary` variant).
        let routeIndex = outcome.response.routeIndex
        ResponseCompression.compress(
            &outcome.response, request: head, facts: facts, settings: settings, resources: resources,
            allocator: allocator())
        outcome.response.routeIndex = routeIndex
        return outcome
    }

    /// Opens the file `outcome` sends from disk, if it does. A file that changed since it was looked up is looked up
    /// once more (the cache notices then); a file that cannot be opened for another reason (out of descriptors) gets
    /// 500, never a 404 that a CDN would keep.
    private static func openFile(
        of outcome: inout StaticSite.Outcome, secondLookFor head: RequestHead, facts: RequestHeaderFacts,
        settings: ConnectionSettings, resources: LoopResources, allocator: @autoclosure () -> ByteBufferAllocator
    ) -> OpenDescriptor? {
        for look in 1...2 {
            guard case .file(let path, let identity, _, _) = outcome.response.body else { return nil }
            switch resources.descriptors.descriptor(for: path, identity: identity) {
            case .success(let opened):
                return opened
            case .failure(.failed(let error)):
                outcome = StaticSite.Outcome(
                    response: .simple(.internalServerError, omitBody: head.method == .HEAD),
                    failure: "\(path): \(error)")
                return nil
            case .failure(.changed) where look == 1:
                outcome = lookUp(head, facts: facts, settings: settings, resources: resources, allocator: allocator())
            case .failure(.changed):
                outcome.response = .simple(.notFound, omitBody: head.method == .HEAD)
            }
        }
        return nil
    }
}
