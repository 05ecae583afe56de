import NIOCore
import Shared

/// `redirect_to_https`: a plain listener that sends every request to the same URL on https.
extension HTTP1ConnectionHandler {
    func redirectResponse(_ redirect: HTTPSRedirect, head: RequestHead, facts: RequestHeaderFacts) -> Response {
        guard let location = redirect.location(host: head.host, target: head.target) else {
            settings.logger.info(
                "https redirect refused: Host is not a name of Edge's certificates",
                metadata: ["client": "\(remoteAddress)", "host": "\(head.host ?? "-")"])
            return .simple(.badRequest)
        }
        // 308 rather than 301: the client repeats the method and body, so a POST stays a POST.
        return .simple(.permanentRedirect, headers: [("Location", location)], omitBody: head.method.isHEAD)
    }
}
