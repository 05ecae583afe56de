import NIOCore
import NIOHPACK

/// A cached file's HTTP/2 response as `HTTP2FastPath` made it, kept with the file (`CachedFile.http2Response`) for the
/// requests of the same second: HTTP/1's ready-made whole response (`CachedFile.wholeResponse`) in HTTP/2's form.
struct HTTP2CachedResponse {
    /// The `Date` line and the listener's HSTS line it was made with: it serves only requests that would get both.
    let dateLine: ByteBuffer
    let hstsLine: ByteBuffer?
    let fields: HPACKHeaders
    /// The body, the file's own contents (or its gzip stream, undone from its HTTP/1 chunks); `nil` for none.
    let body: ByteBuffer?
}
