import AppServer
import Foundation
import HTTPTypes
import NIOCore

/// `POST /upload`: stores the body, or the file of an HTML form (`multipart/form-data`), in the media directory.
///
/// The bytes stream to a temporary file that is `fsync`ed and renamed into place, so a file appears whole or not
/// at all; a cut-off or refused upload removes its temporary file. Its name, size, SHA-256, content type and time
/// then go to the database; a file whose row cannot be written is removed again, so the two never disagree.
///
/// A browser's form post is answered `303 See Other` back to the home page, which lists it; an API client (one that
/// accepts `application/json`, or sends the bytes as the body) gets `201 Created` with the file's JSON and its
/// `Location`.
enum Upload {
    static func respond(
        to request: AppRequest, directory: String, database: any AppDatabase, writer: some ResponseWriter
    ) async throws {
        let boundary: String?
        do {
            boundary = try MultipartReader.boundary(ofContentType: request.head.headerFields[.contentType])
        } catch {
            throw BadUpload(message: error.description)
        }
        var file = try PendingUpload(in: directory)
        let name: String
        let contentType: String
        do {
            let formPart: FormPart?
            if let boundary {
                formPart = try await storeFormFile(from: request.body, boundary: boundary, in: &file)
            } else {
                try await storeBody(from: request.body, in: &file)
                formPart = nil
            }
            name =
                safeName(request.query["name"]) ?? formPart?.filename.flatMap(storableName)
                ?? UUID().uuidString.lowercased()
            contentType =
                (boundary == nil ? request.head.headerFields[.contentType] : formPart?.contentType)
                ?? "application/octet-stream"
        } catch {
            file.discard()
            throw error
        }
        let stored = try file.keep(as: name)
        let record = StoredUpload(
            name: name, size: stored.size, sha256: stored.sha256, contentType: contentType, storedAt: Date())
        do {
            try await database.insert(record)
        } catch {
            unlink("\(directory)/\(name)")
            throw DatabaseUnavailable(reason: "upload \(name) not recorded: \(error)")
        }
        let accept = request.head.headerFields[.accept] ?? ""
        if boundary != nil && !accept.contains("application/json") {
            var response = HTTPResponse(status: .seeOther)
            response.headerFields[.location] = "/"
            response.headerFields[.contentType] = "text/plain"
            try await writer.write(response, body: ByteBuffer(string: "stored \(name); see /\n"))
            return
        }
        let object: [String: Any] = [
            "name": name, "size": stored.size, "sha256": stored.sha256, "content_type": contentType,
            "url": "/media/\(name)",
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        var created = HTTPResponse.json(status: .created)
        created.headerFields[.location] = "/media/\(name)"
        try await writer.write(created, body: ByteBuffer(bytes: data))
    }

    /// Writes the whole body to `file`.
    static func storeBody(from body: RequestBody, in file: inout PendingUpload) async throws {
        for try await piece in body { try file.append(piece) }
    }

    /// Writes the form's first chosen file to `file` and returns its part (the name and type the browser gave it).
    /// Other fields are read past: a form's text fields are not kept.
    static func storeFormFile(
        from body: RequestBody, boundary: String, in file: inout PendingUpload
    ) async throws -> FormPart {
        var reader = MultipartReader(boundary: boundary)
        var storing = false
        var chosen: FormPart?
        do {
            for try await piece in body {
                for event in try reader.read(piece) {
                    switch event {
                    case .partBegan(let part):
                        // A file input left empty arrives as a part with an empty file name.
                        if chosen == nil, let filename = part.filename, !filename.isEmpty {
                            chosen = part
                            storing = true
                        }
                    case .bytes(let contents) where storing:
                        try file.append(contents)
                    case .bytes:
                        continue
                    case .partEnded:
                        storing = false
                    }
                }
            }
            try reader.finish()
        } catch let error as MultipartError {
            throw BadUpload(message: error.description)
        }
        guard let chosen else { throw BadUpload(message: "the form has no file: choose one before uploading") }
        return chosen
    }

    /// A plain file name (letters, digits, `.`, `-`, `_`), not hidden; anything else gets a generated name.
    static func safeName(_ proposed: String?) -> String? {
        guard let proposed, !proposed.isEmpty, proposed.count <= 200, !proposed.hasPrefix("."),
            proposed.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else { return nil }
        return proposed
    }

    /// A browser's file name made safe to store: its last path component (old browsers send the whole path),
    /// every other character than letters, digits, `.`, `-` and `_` replaced by `_`, leading dots removed.
    /// `my photo (1).jpg` → `my_photo__1_.jpg`; nil when nothing is left.
    static func storableName(_ filename: String) -> String? {
        let lastComponent = filename.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? ""
        let replaced = String(
            lastComponent.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        let visible = replaced.drop { $0 == "." }
        return safeName(String(visible.suffix(200)))
    }
}

/// An upload the client got wrong: answered 400 with the message.
struct BadUpload: HTTPResponseError {
    var message: String
    var status: HTTPResponse.Status { .badRequest }
}
