import Testing

@testable import EdgeCore

@Suite struct RequestPathTests {
    private func decoded(_ raw: String) -> String? {
        try? RequestPath.decode(raw[...]).get().decoded
    }

    private func rejection(_ raw: String) -> PathRejection? {
        if case .failure(let rejection) = RequestPath.decode(raw[...]) { return rejection }
        return nil
    }

    @Test(arguments: [
        ("/", "/"),
        ("/static/app.css", "/static/app.css"),
        ("/media/my%20photo.jpg", "/media/my photo.jpg"),
        ("/media/my photo.jpg", "/media/my photo.jpg"),
        ("/media/caf%C3%A9.png", "/media/café.png"),
        ("/media/café.png", "/media/café.png"),
        ("/docs/", "/docs/"),
        ("/a/b.tar.gz", "/a/b.tar.gz"),
        ("/%25percent", "/%percent"),
        ("/a..b", "/a..b"),
    ])
    func acceptsLegitimatePaths(raw: String, expected: String) {
        #expect(decoded(raw) == expected)
    }

    @Test(arguments: [
        "/../etc/passwd", "/static/../../etc/passwd", "/static/..", "/./x", "/a/./b",
        "/%2e%2e/etc/passwd", "/%2E%2E/etc/passwd", "/.%2e/x", "/static/%2e%2e%2fsecret",
        "/static%2f..%2fsecret", "/a%2Fb", "/a%5cb", "/a\\b", "/..\\etc", "/a%00.txt", "/a\u{0}b",
        "/a//b", "//etc/passwd", "/a%zz", "/a%2", "relative", "/a%C3", "/a%0d%0aSet-Cookie:x", "/x#frag",
    ])
    func refusesAttacksWith400(raw: String) {
        guard case .malformed = rejection(raw) else {
            Issue.record("\(raw) was not refused as malformed")
            return
        }
    }

    @Test(arguments: ["/.env", "/.git/config", "/static/.htaccess", "/a/.hidden/b.txt"])
    func hidesDotfilesWith404(raw: String) {
        guard case .hidden = rejection(raw) else {
            Issue.record("\(raw) was not hidden")
            return
        }
    }

    @Test(arguments: [
        "/", "/plaintext", "/a/b.tar.gz", "/a..b", "/a/", "/media/my photo.jpg", "/media/café.png", "/%41", "/.env",
        "/a//b", "/../x", "/a/./b", "/a\\b", "/x#y", "relative", "", "/a\u{1}b",
    ])
    func plainPathsAreTheirOwnDecoding(raw: String) {
        // The routing shortcut may only say "plain" where decoding would return the path unchanged.
        if RequestPath.isPlain(raw[...]) { #expect(decoded(raw) == raw) }
    }

    @Test func routingAdmitsDotfilesButNotTraversal() {
        #expect(
            (try? RequestPath.decode("/.well-known/acme"[...], allowingDotfiles: true).get().decoded)
                == "/.well-known/acme")
        #expect((try? RequestPath.decode("/%2E%2E/x"[...], allowingDotfiles: true).get()) == nil)
        let site = StaticSite(routes: [
            RouteConfig(prefix: "/static/", dir: "/srv"), RouteConfig(prefix: "/", dir: "", upstream: "app"),
        ])
        #expect(site.upstream(for: "/.well-known/acme-challenge/t") == "app")
        #expect(site.upstream(for: "/api/caf%C3%A9?q=1") == "app")
        #expect(site.upstream(for: "/static/x.css") == nil)
        #expect(site.upstream(for: "/static/%2e%2e/api") == nil)  // refused, answered by the static side
    }

    @Test func decodesExactlyOnce() {
        // %2541 is "%41" after one decoding; a second decoding would turn it into "A".
        #expect(decoded("/%2541") == "/%41")
    }
}

@Suite struct RouterTests {
    let router = Router(routes: [
        RouteConfig(prefix: "/", dir: "/srv/site"),
        RouteConfig(prefix: "/static/", dir: "/srv/static"),
        RouteConfig(prefix: "/static/img/", dir: "/srv/img"),
    ])

    private func match(_ path: String) -> (Int, String)? {
        let requestPath = try! RequestPath.decode(path[...]).get()
        return router.match(requestPath).map { ($0.routeIndex, String($0.relativePath)) }
    }

    @Test func longestPrefixWins() {
        #expect(match("/static/img/a.png")! == (2, "a.png"))
        #expect(match("/static/a.css")! == (1, "a.css"))
        #expect(match("/index.html")! == (0, "index.html"))
        #expect(match("/static")! == (0, "static"))
    }

    @Test func upstreamFollowsTheLongestPrefix() {
        let mixed = Router(routes: [
            RouteConfig(prefix: "/", dir: "", upstream: "app"),
            RouteConfig(prefix: "/static/", dir: "/srv/static"),
            RouteConfig(prefix: "/static/live/", dir: "", upstream: "live"),
        ])
        func upstream(_ path: String) -> String? { mixed.upstream(for: try! RequestPath.decode(path[...]).get()) }
        #expect(upstream("/static/live/feed") == "live")
        #expect(upstream("/static/app.css") == nil)  // a file route inside a proxied one
        #expect(upstream("/login") == "app")
        let staticOnly = Router(routes: [RouteConfig(prefix: "/static/", dir: "/srv")])
        #expect(staticOnly.upstream(for: try! RequestPath.decode("/other"[...]).get()) == nil)
    }

    @Test func noRouteNoMatch() {
        let only = Router(routes: [RouteConfig(prefix: "/static/", dir: "/srv")])
        #expect(only.match(try! RequestPath.decode("/other"[...]).get()) == nil)
    }
}
