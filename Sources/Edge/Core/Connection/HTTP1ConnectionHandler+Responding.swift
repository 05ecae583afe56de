import Logging
import NIOCore
import NIOHTTP1
import Shared

/// Answering a request Edge serves itself: the limits every request must meet, the https redirect, and static
/// files, opened from disk when they are not in memory.
extension HTTP1ConnectionHandler {
    /// Opens the file `outcome` sends from disk, if it does. A file that changed since it was looked up is looked up
    /// once more (the cache notices then); a file that cannot be opened for another reason (out of descriptors) gets
    /// 500, never a 404 that a CDN would keep.
    private func openFile(
        of outcome: inout StaticSite.Outcome, secondLookFor head: RequestHead, facts: RequestHeaderFacts
    ) -> OpenDescriptor? {
        for look in 1...2 {
            guard case .file(let path, let identity, _, _) = outcome.response.body else { return nil }
            switch resources.descriptors.descriptor(for: path, identity: identity) {
            case .success(let opened):
                return opened
            case .failure(.failed(let error)):
                let status = HTTPStatus.internalServerError
                outcome = StaticSite.Outcome(
                    response: .simple(status, omitBody: head.method == .HEAD), failure: "\(path): \(error)")
                return nil
            case .failure(.changed) where look == 1:
                outcome = settings.site.respond(
                    method: head.method, uri: head.target, facts: facts, cache: resources.files)
                ResponseCompression.compress(
                    &outcome.response, request: head, facts: facts, settings: settings, resources: resources,
                    allocator: context.channel.allocator)
            case .failure(.changed):
                outcome.response = .simple(.notFound, omitBody: head.method == .HEAD)
            }
        }
        return nil
    }

    /// A static route (or a redirecting listener) has no use for a body: a request it refuses anyway (405, 413, a
    /// redirect) is answered as soon as its head is in, as nginx does, instead of after a body that would be dropped
    /// (1,000 slow POSTs held 1,000 connections). The connection then closes after a bounded drain of what the
    /// client still sends (the lingering close), so the client can read the answer.
    func answerWithoutBody(context: ChannelHandlerContext) {
        guard let request = request.take() else { return }
        lingerBeforeClose = true
        respond(to: request, closingConnection: true, context: context)
        flushIfNeeded(context: context)
    }

    func exceedsMaxBodySize(_ head: RequestHead) -> Bool {
        if case .length(let length) = head.bodyFraming { length > settings.maxBodySize } else { false }
    }

    func respond(to request: RequestInProgress, closingConnection: Bool = false, context: ChannelHandlerContext) {
        let head = request.head
        let facts = RequestHeaderFacts(head.headers, forLogging: resources.accessLog.isEnabled)
        var response: Response
        var descriptor: OpenDescriptor? = nil
        if let refused = checkLimits(head, facts) {
            response = refused
        } else if let redirect = listener.httpsRedirect {
            response = redirectResponse(redirect, head: head, facts: facts)
        } else {
            var outcome = settings.site.respond(
                method: head.method, uri: head.target, facts: facts, cache: resources.files)
            ResponseCompression.compress(
                &outcome.response, request: head, facts: facts, settings: settings, resources: resources,
                allocator: context.channel.allocator)
            descriptor = openFile(of: &outcome, secondLookFor: head, facts: facts)
            if let refusal = outcome.refusal {
                settings.logger.warning(
                    "refused request",
                    metadata: ["client": "\(remoteAddress)", "uri": "\(head.target)", "reason": "\(refusal)"])
            }
            if let failure = outcome.failure {
                settings.logger.error(
                    "cannot serve file",
                    metadata: ["client": "\(remoteAddress)", "uri": "\(head.target)", "reason": "\(failure)"])
            }
            response = outcome.response
        }
        if closingConnection { response.closesConnection = true }
        applyErrorPage(to: &response)
        let keepAlive = state.willKeepAlive(responseClosesConnection: response.closesConnection)
        let isHTTP10 = head.minorVersion == 0
        write(
            response, keepAlive: keepAlive, http10: isHTTP10, logAs: (head, request.start), facts: facts,
            descriptor: descriptor, context: context)
        perform(state.responseWritten(responseClosesConnection: response.closesConnection).action, context: context)
    }

    func checkLimits(_ head: RequestHead, _ facts: RequestHeaderFacts) -> Response? {
        if settings.site.hasAccessRules {
            let client = clientAddress(of: head)
            if let rule = settings.site.accessRefusal(for: head.target, client: client) {
                settings.logger.info(
                    "access denied by the route's rules",
                    metadata: ["client": "\(client)", "uri": "\(head.target)", "rule": "\(rule)", "status": "403"])
                return .simple(.forbidden)
            }
        }
        if case .length(let length) = head.bodyFraming, length > settings.maxBodySize {
            // Refused before any body byte is read (or, proxied, anything is sent upstream); the connection closes.
            settings.logger.info(
                "request body too large",
                metadata: [
                    "client": "\(remoteAddress)", "length": "\(length)", "max_body_size": "\(settings.maxBodySize)",
                ])
            return .simple(.payloadTooLarge, closesConnection: true)
        }
        if head.minorVersion == 1 && facts.hostCount != 1 {
            settings.logger.info(
                "HTTP/1.1 request without exactly one Host header", metadata: ["client": "\(remoteAddress)"])
            return .simple(.badRequest, closesConnection: true)
        }
        return nil
    }
}
