import NIOHTTP1

extension HTTPMethod {
    // `==` on `HTTPMethod` goes through its `RawRepresentable` conformance and builds both raw-value strings; these
    // match the case instead. The request path asks several times per request.

    /// The method is GET.
    @inlinable public var isGET: Bool {
        if case .GET = self { return true }
        return false
    }

    /// The method is HEAD.
    @inlinable public var isHEAD: Bool {
        if case .HEAD = self { return true }
        return false
    }
}
