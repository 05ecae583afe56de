import Logging
import NIOCore
import Shared

/// The checks a request meets before Edge answers or proxies it: the route's `allow`/`deny` rules and the body size
/// limit. Each refusal is logged with what was wrong. (The parser has already refused what is not HTTP, a missing or
/// doubled `Host` included.)
enum RequestAdmission {
    /// The response refusing `head`, or `nil` when it may go on. `client` is the address the access rules judge (after
    /// `real_ip`), given when a route has rules (`StaticSite.hasAccessRules`).
    static func refusal(
        of head: RequestHead, settings: ConnectionSettings, peer: String, client: String?
    ) -> Response? {
        if let client {
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
                    "client": "\(peer)", "length": "\(length)", "max_body_size": "\(settings.maxBodySize)",
                ])
            return .simple(.payloadTooLarge, closesConnection: true)
        }
        return nil
    }

    /// Whether the body `head` announces is over `limits.max_body_size` (a chunked body is counted as it arrives).
    static func exceedsMaxBodySize(_ head: RequestHead, settings: ConnectionSettings) -> Bool {
        if case .length(let length) = head.bodyFraming { length > settings.maxBodySize } else { false }
    }
}
