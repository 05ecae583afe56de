import AppServer
import Foundation
import HTTPTypes
import NIOCore

/// `POST /upload`: stores the body, or the file of an HTML form (`multipart/form-data`), in the media directory.
///
/// The bytes stream to a temporary file that is `fsync`ed and renamed into place, so a file appears whole or not
/// at all; a cut-off or refused upload removes its temporary file.
enum Upload {
    static func respond(to request: AppRequest, directory: String, writer: some ResponseWriter) async throws {
        let boundary: String?
        do {
            boundary = try MultipartReader.boundary(ofContentType: request.head.headerFields[.contentType])
        } catch {
            throw BadUpload(message: error.description)
        }
        var file = try PendingUpload(in: directory)
        let name: String
        do {
            let formFilename: String?
            if let boundary {
                formFilename = try await storeFormFile(from: request.body, boundary: boundary, in: &file)
            } else {
                try await storeBody(from: request.body, in: &file)
                formFilename = nil
            }
            name =
                safeName(request.query["name"]) ?? formFilename.flatMap(storableName) ?? UUID().uuidString.lowercased()
        } catch {
            file.discard()
            throw error
        }
        let stored = try file.keep(as: name)
        let object: [String: Any] = ["name": name, "size": stored.size, "sha256": stored.sha256]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await writer.write(.json(status: .created), body: ByteBuffer(bytes: data))
    }

    /// Writes the whole body to `file`.
    static func storeBody(from body: RequestBody, in file: inout PendingUpload) async throws {
        for try await piece in body { try file.append(piece) }
    }

    /// Writes the form's first chosen file to `file` and returns the name the browser gave it. Other fields are
    /// read past: a form's text fields are not kept.
    static func storeFormFile(
        from body: RequestBody, boundary: String, in file: inout PendingUpload
    ) async throws -> String {
        var reader = MultipartReader(boundary: boundary)
        var storing = false
        var chosenName: String?
        do {
            for try await piece in body {
                for event in try reader.read(piece) {
                    switch event {
                    case .partBegan(let part):
                        // A file input left empty arrives as a part with an empty file name.
                        if chosenName == nil, let filename = part.filename, !filename.isEmpty {
                            chosenName = filename
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
        guard let chosenName else { throw BadUpload(message: "the form has no file: choose one before uploading") }
        return chosenName
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
