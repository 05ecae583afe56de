import Shared

/// `routes[].allow` and `routes[].deny`: which client addresses a route serves.
///
/// An address in `deny` gets 403. When `allow` is set, an address outside it gets 403 too; an address in both is
/// denied. So `deny: [10.0.0.7]` with `allow: [10.0.0.0/8]` is nginx's `deny 10.0.0.7; allow 10.0.0.0/8; deny all;`.
/// The address is the client's as `real_ip` decides it: the peer's, or the one a trusted proxy names.
public struct AccessRules: Sendable, Hashable {
    public var allow: [CIDR] = []
    public var deny: [CIDR] = []

    public init(allow: [CIDR] = [], deny: [CIDR] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// No rule: every address passes.
    public var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    /// The rule that refuses `address`, as the log names it (`deny 10.0.0.0/8`, `not in allow`), or `nil` when the
    /// address may pass. An address that is not an IP (a Unix-socket peer) is refused only where `allow` is set.
    public func refusal(of address: String) -> String? {
        guard let bytes = CIDR.parseAddress(address) else { return allow.isEmpty ? nil : "not in allow" }
        if let rule = deny.first(where: { $0.contains(bytes) }) { return "deny \(rule)" }
        if !allow.isEmpty && !allow.contains(where: { $0.contains(bytes) }) { return "not in allow" }
        return nil
    }

    /// The ranges of a list as written in the config: CIDR ranges, single addresses, or `all`; `nil` for text that
    /// is none of these.
    static func ranges(_ text: String) -> [CIDR]? {
        if text == "all" { return [CIDR("0.0.0.0/0")!, CIDR("::/0")!] }
        return CIDR(text).map { [$0] }
    }
}
