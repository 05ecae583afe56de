import Shared
import Testing

@testable import EdgeCore

@Suite struct AccessRulesTests {
    static func rules(allow: [String] = [], deny: [String] = []) -> AccessRules {
        AccessRules(
            allow: allow.flatMap { AccessRules.ranges($0)! }, deny: deny.flatMap { AccessRules.ranges($0)! })
    }

    @Test(
        arguments: [
            // (allow, deny, address, refusal)
            ([], [], "203.0.113.9", nil),
            (["10.0.0.0/8"], [], "10.1.2.3", nil),
            (["10.0.0.0/8"], [], "203.0.113.9", "not in allow"),
            ([], ["203.0.113.0/24"], "203.0.113.9", "deny 203.0.113.0/24"),
            ([], ["203.0.113.0/24"], "198.51.100.1", nil),
            // In both: denied (nginx's deny-then-allow order).
            (["10.0.0.0/8"], ["10.0.0.7"], "10.0.0.7", "deny 10.0.0.7/32"),
            (["10.0.0.0/8"], ["10.0.0.7"], "10.0.0.8", nil),
            ([], ["all"], "::1", "deny 0:0:0:0:0:0:0:0/0"),
            (["2001:db8::/32"], [], "2001:db8::1", nil),
            (["2001:db8::/32"], [], "127.0.0.1", "not in allow"),
            // Not an IP (a Unix-socket peer): refused only where an allow list is set.
            (["10.0.0.0/8"], [], "unix:", "not in allow"),
            ([], ["10.0.0.0/8"], "unix:", nil),
        ] as [([String], [String], String, String?)])
    func refusal(allow: [String], deny: [String], address: String, expected: String?) {
        #expect(Self.rules(allow: allow, deny: deny).refusal(of: address) == expected)
    }
}
