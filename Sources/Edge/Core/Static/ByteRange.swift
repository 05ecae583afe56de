/// What to send for a `Range` header on a file of known size (RFC 9110 §14).
public enum RangeDecision: Hashable, Sendable {
    /// Send the whole file with 200: no `Range`, a syntax this server ignores, or several ranges.
    case full
    /// Send `length` bytes from `offset` with 206.
    case partial(offset: Int, length: Int)
    /// Answer 416 with `Content-Range: bytes */size`.
    case unsatisfiable
}

/// Parsing of the `Range` request header.
///
/// Only single byte ranges are honoured; a request for several ranges gets the full file with 200, which the RFC
/// allows and which avoids multipart responses being used to amplify traffic.
public enum ByteRange {
    /// The decision for `header` (the `Range` value) on a file of `size` bytes.
    public static func decide(_ header: Substring?, size: Int) -> RangeDecision {
        guard let header else { return .full }
        let trimmed = header.drop(while: { $0 == " " })
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .full }
        let specs = trimmed.dropFirst("bytes=".count).split(separator: ",", omittingEmptySubsequences: false)
        guard specs.count == 1, let spec = specs.first else { return .full }
        let parts = spec.trimmingCharacters(" ").split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .full }
        let firstText = parts[0], lastText = parts[1]
        guard firstText.allSatisfy(\.isASCIIDigit), lastText.allSatisfy(\.isASCIIDigit) else { return .full }

        if firstText.isEmpty {
            // Suffix range: the last N bytes.
            guard let suffixLength = Int(lastText) else { return .full }
            guard suffixLength > 0, size > 0 else { return .unsatisfiable }
            let length = min(suffixLength, size)
            return .partial(offset: size - length, length: length)
        }
        guard let first = Int(firstText) else { return .unsatisfiable }  // larger than any file
        let last: Int
        if lastText.isEmpty {
            last = size - 1
        } else {
            guard let parsedLast = Int(lastText) ?? Optional(Int.max), parsedLast >= first else { return .full }
            last = min(parsedLast, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .partial(offset: first, length: last - first + 1)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Substring {
    func trimmingCharacters(_ character: Character) -> Substring {
        var slice = self
        while slice.first == character { slice.removeFirst() }
        while slice.last == character { slice.removeLast() }
        return slice
    }
}
