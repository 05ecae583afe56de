import NIOCore
import Shared

/// Builds the response for a found file: 200, 206, 304, 412 or 416, per the request's conditions and range.
public enum StaticFileResponder {
    /// The response to a GET (or HEAD, with `isHead`) for `file`.
    public static func respond(to file: CachedFile, isHead: Bool, facts: RequestHeaderFacts) -> Response {
        if let conditions = facts.conditions, !conditions.isEmpty {
            switch ConditionalRequest.evaluate(conditions, validators: file.validators) {
            case .proceed: break
            case .notModified: return notModified(file)
            case .preconditionFailed: return .simple(.preconditionFailed, omitBody: isHead)
            }
        }
        let size = file.identity.size
        if !isHead, facts.range != nil,
            ConditionalRequest.rangeAllowed(ifRange: facts.conditions?.ifRange, validators: file.validators)
        {
            switch ByteRange.decide(facts.range, size: size) {
            case .full: break
            case .partial(let offset, let length): return partial(file, offset: offset, length: length)
            case .unsatisfiable: return .simple(.rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(size)")])
            }
        }
        var response: Response
        if isHead {
            response = Response(status: .ok, head: file.fullResponseHead, body: .none(length: size))
        } else if let contents = file.contents {
            response = .whole(file, contents: contents)
        } else {
            let body = ResponseBody.file(path: file.path, identity: file.identity, offset: 0, length: size)
            response = Response(status: .ok, head: file.fullResponseHead, body: body)
        }
        response.representation = (file.contentType, size)
        return response
    }

    private static func notModified(_ file: CachedFile) -> Response {
        var head = ByteBuffer()
        head.reserveCapacity(160)
        ResponseHeaders.writeStatusLine(.notModified, into: &head)
        head.writeStaticString("Server: edge\r\n")
        ResponseHeaders.write("Last-Modified", HTTPDate.format(file.validators.lastModified), into: &head)
        ResponseHeaders.write("ETag", file.validators.etag, into: &head)
        if let cacheControl = file.cacheControl { ResponseHeaders.write("Cache-Control", cacheControl, into: &head) }
        var response = Response(status: .notModified, head: head, body: .none(length: 0))
        response.representation = (file.contentType, file.identity.size)
        return response
    }

    private static func partial(_ file: CachedFile, offset: Int, length: Int) -> Response {
        var head = ByteBuffer()
        head.reserveCapacity(256)
        ResponseHeaders.writeStatusLine(.partialContent, into: &head)
        ResponseHeaders.writeFileHeaders(
            into: &head, contentType: file.contentType, contentLength: length, validators: file.validators,
            cacheControl: file.cacheControl)
        ResponseHeaders.write(
            "Content-Range", "bytes \(offset)-\(offset + length - 1)/\(file.identity.size)", into: &head)
        let body: ResponseBody
        if let contents = file.contents {
            body = .memory(contents.getSlice(at: contents.readerIndex + offset, length: length)!)
        } else {
            body = .file(path: file.path, identity: file.identity, offset: offset, length: length)
        }
        var response = Response(status: .partialContent, head: head, body: body)
        response.representation = (file.contentType, file.identity.size)
        return response
    }
}
