import Shared

/// The validators of a file, as sent in `ETag` and `Last-Modified`.
public struct Validators: Hashable, Sendable {
    /// The strong entity tag including quotes, e.g. `"5f1c2a-1a2b"`.
    public var etag: String
    /// Modification time in whole seconds since the epoch (HTTP dates have one-second precision).
    public var lastModified: Int

    /// Validators for a file.
    public init(etag: String, lastModified: Int) {
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// The outcome of a request's preconditions (RFC 9110 §13.2.2), in the order the RFC evaluates them.
public enum PreconditionResult: Hashable, Sendable {
    /// Serve the file (200 or 206).
    case proceed
    /// 304 Not Modified, no body.
    case notModified
    /// 412 Precondition Failed.
    case preconditionFailed
}

/// Evaluation of `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` and `If-Range`.
public enum ConditionalRequest {
    /// The conditional request headers of one request.
    public struct Headers: Sendable {
        public var ifMatch: Substring?
        public var ifUnmodifiedSince: Substring?
        public var ifNoneMatch: Substring?
        public var ifModifiedSince: Substring?
        public var ifRange: Substring?

        public init(
            ifMatch: Substring? = nil, ifUnmodifiedSince: Substring? = nil, ifNoneMatch: Substring? = nil,
            ifModifiedSince: Substring? = nil, ifRange: Substring? = nil
        ) {
            self.ifMatch = ifMatch
            self.ifUnmodifiedSince = ifUnmodifiedSince
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
            self.ifRange = ifRange
        }

        /// True when no precondition header is present (the common case, checked first to stay cheap).
        public var isEmpty: Bool {
            ifMatch == nil && ifUnmodifiedSince == nil && ifNoneMatch == nil && ifModifiedSince == nil
        }
    }

    /// What a GET or HEAD for a file with `validators` should get, given the request's precondition headers.
    public static func evaluate(_ headers: Headers, validators: Validators) -> PreconditionResult {
        if let ifMatch = headers.ifMatch {
            if !matches(list: ifMatch, etag: validators.etag, weak: false) { return .preconditionFailed }
        } else if let ifUnmodifiedSince = headers.ifUnmodifiedSince, let date = HTTPDate.parse(ifUnmodifiedSince) {
            if validators.lastModified > date { return .preconditionFailed }
        }
        if let ifNoneMatch = headers.ifNoneMatch {
            // If-None-Match wins over If-Modified-Since when both are sent.
            return matches(list: ifNoneMatch, etag: validators.etag, weak: true) ? .notModified : .proceed
        }
        if let ifModifiedSince = headers.ifModifiedSince, let date = HTTPDate.parse(ifModifiedSince),
            validators.lastModified <= date
        {
            return .notModified
        }
        return .proceed
    }

    /// Whether a `Range` may be honoured: without `If-Range`, or when it names the current strong ETag or exact
    /// `Last-Modified` date. Otherwise the whole file is sent, so a client never stitches two versions together.
    public static func rangeAllowed(ifRange: Substring?, validators: Validators) -> Bool {
        guard let ifRange = ifRange?.trimmingCharacters(" ") else { return true }
        if ifRange.hasPrefix("\"") || ifRange.hasPrefix("W/") {
            return !ifRange.hasPrefix("W/") && ifRange == validators.etag
        }
        return HTTPDate.parse(ifRange) == validators.lastModified
    }

    /// Whether a comma-separated ETag list (or `*`) contains `etag`, by weak or strong comparison.
    static func matches(list: Substring, etag: String, weak: Bool) -> Bool {
        let opaqueTag = etag.hasPrefix("W/") ? etag.dropFirst(2) : Substring(etag)
        for candidate in list.split(separator: ",") {
            let tag = candidate.trimmingCharacters(" ")
            if tag == "*" { return true }
            if tag.hasPrefix("W/") {
                if weak && tag.dropFirst(2) == opaqueTag { return true }
            } else if tag == opaqueTag && (weak || !etag.hasPrefix("W/")) {
                return true
            }
        }
        return false
    }
}
