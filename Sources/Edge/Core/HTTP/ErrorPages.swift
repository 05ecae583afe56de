import Foundation
import NIOCore

/// The pages of `error_pages`, read when the configuration is loaded, so answering with one never touches the disk
/// and a page that went missing since cannot turn an error into another (the default plain text is sent instead,
/// until the next reload says why).
public struct ErrorPages: Sendable {
    /// One page: its bytes and the `Content-Type` its file name gives.
    public struct Page: Sendable {
        public let body: ByteBuffer
        public let contentType: String
    }

    /// Error pages are small; a larger file is a configuration problem.
    public static let maxSize = 1 << 20

    private let pages: [Int: Page]

    /// Reads each page of `paths`; one that cannot be read now is left out (the config check said why).
    public init(_ paths: [Int: String]) {
        pages = paths.compactMapValues { path in
            guard let data = FileManager.default.contents(atPath: path), data.count <= Self.maxSize else { return nil }
            let name = path.split(separator: "/").last ?? Substring(path)
            return Page(body: ByteBuffer(bytes: data), contentType: MediaTypes.contentType(forFileName: name))
        }
    }

    /// The page for `status`, if one is configured.
    public subscript(status: Int) -> Page? { pages[status] }

    public var isEmpty: Bool { pages.isEmpty }
}
