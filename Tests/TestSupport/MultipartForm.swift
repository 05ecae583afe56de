/// A `multipart/form-data` body built as a browser builds one for `<form enctype="multipart/form-data">`.
public struct MultipartForm {
    public let boundary = "----EdgeTestFormBoundary4f8a1c"
    public private(set) var body: [UInt8] = []

    public init() {}

    public mutating func addField(_ name: String, _ value: String) {
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
    }

    /// A file input; an empty `filename` is what browsers send for one left empty.
    public mutating func addFile(
        _ field: String, filename: String, contents: [UInt8], type: String = "application/octet-stream"
    ) {
        body += Array(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\n".utf8)
        body += Array("Content-Type: \(type)\r\n\r\n".utf8) + contents + Array("\r\n".utf8)
    }

    /// The whole body, closing boundary included.
    public var completeBody: [UInt8] { body + Array("--\(boundary)--\r\n".utf8) }

    /// A complete HTTP/1.1 POST of the form.
    /// The form posted to `target`, with `accept` as a browser (`text/html…`) or an API client would send it.
    public func request(to target: String, accept: String = "text/html,application/xhtml+xml") -> [UInt8] {
        let complete = completeBody
        let head =
            "POST \(target) HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\n"
            + "Accept: \(accept)\r\nContent-Length: \(complete.count)\r\n\r\n"
        return Array(head.utf8) + complete
    }
}
