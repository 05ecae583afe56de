/// `Accept-Encoding` (RFC 9110 §12.5.3), read for the one question Edge asks: may the response be gzipped?
public enum AcceptEncoding {
    /// Whether a client sending `header` accepts gzip: `gzip` (or `x-gzip`) with a q-value above 0, or, when gzip
    /// is not named, `*` above 0. No header, `identity` alone, and `gzip;q=0` all mean no.
    public static func allowsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Bool?
        var wildcard: Bool?
        for element in header.split(separator: ",") {
            let parts = element.split(separator: ";")
            guard let coding = parts.first?.trimmedOfWhitespace().lowercased(), !coding.isEmpty else { continue }
            let accepted = parts.dropFirst().allSatisfy { parameter in
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmedOfWhitespace().lowercased() }
                guard pair.count == 2, pair[0] == "q" else { return true }
                return (Double(pair[1]) ?? 0) > 0
            }
            switch coding {
            case "gzip", "x-gzip": gzip = (gzip ?? false) || accepted
            case "*": wildcard = accepted
            default: break
            }
        }
        return gzip ?? wildcard ?? false
    }
}
