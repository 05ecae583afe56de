import AppServer
import Crypto
import Foundation
import HTTPTypes
import NIOCore

/// `ANY /echo`: what the app saw, as JSON: method, path, query, headers, client address, scheme, the request id
/// and trace id (as an app reads them to join its own logs to the servers'), and the body's length and SHA-256 (the
/// body is hashed as it streams, never held whole).
enum Echo {
    static func respond(to request: AppRequest, writer: some ResponseWriter) async throws {
        var hasher = SHA256()
        var length = 0
        for try await piece in request.body {
            piece.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            length += piece.readableBytes
        }
        let path = request.head.path ?? "/"
        let headers = request.head.headerFields.map { ["name": $0.name.rawName, "value": $0.value] }
        let object: [String: Any] = [
            "method": request.head.method.rawValue,
            "path": String(path.split(separator: "?", maxSplits: 1).first ?? ""),
            "query": path.contains("?") ? String(path.split(separator: "?", maxSplits: 1)[1]) : "",
            "authority": request.head.authority ?? "",
            "headers": headers,
            "client_address": request.clientAddress,
            "scheme": request.scheme,
            "body_length": length,
            "body_sha256": hasher.finalize().hexString,
            "request_id": request.requestID ?? NSNull(),
            "trace_id": request.traceID ?? NSNull(),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await writer.write(.json(), body: ByteBuffer(bytes: data))
    }
}

extension Digest {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
