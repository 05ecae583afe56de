import NIOCore
import Testing

@testable import appserver

/// The streaming `multipart/form-data` reader behind the reference app's upload form.
@Suite struct MultipartReaderTests {
    static let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"

    /// A form as Firefox and Chrome send it: a text field, a file, and a second (empty) file input.
    static func form(file: [UInt8], preamble: String = "", epilogue: String = "") -> [UInt8] {
        var body = Array(preamble.utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoliday\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"beach.jpg\"\r\n".utf8)
        body += Array("Content-Type: image/jpeg\r\n\r\n".utf8) + file + Array("\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"more\"; filename=\"\"\r\n".utf8)
        body += Array("Content-Type: application/octet-stream\r\n\r\n\r\n--\(boundary)--\r\n".utf8)
        return body + Array(epilogue.utf8)
    }

    /// Contents that look like a boundary without being one: a CRLF and dashes, the boundary without its CRLF,
    /// and a delimiter one character short.
    static let trickyFile = Array(
        "start\r\n--\r\n--\(boundary.dropLast())x \(boundary)\r\n-\r\n--\(boundary.dropLast())\r\r\nend".utf8)

    struct Part: Equatable {
        var header: FormPart
        var contents: [UInt8]
    }

    /// Feeds `body` in the given pieces and reassembles the parts.
    static func parts(of body: [UInt8], splitAt cuts: [Int]) throws(MultipartError) -> [Part] {
        var reader = MultipartReader(boundary: boundary)
        var parts: [Part] = []
        var open = false
        var start = 0
        for end in cuts + [body.count] where end >= start {
            for event in try reader.read(ByteBuffer(bytes: body[start..<end])) {
                switch event {
                case .partBegan(let header):
                    #expect(!open, "a part began inside another")
                    parts.append(Part(header: header, contents: []))
                    open = true
                case .bytes(let bytes):
                    #expect(open, "contents outside a part")
                    parts[parts.count - 1].contents += Array(bytes.readableBytesView)
                case .partEnded:
                    #expect(open)
                    open = false
                }
            }
            start = end
        }
        try reader.finish()
        return parts
    }

    static let expected = [
        Part(header: FormPart(name: "title", filename: nil), contents: Array("Holiday".utf8)),
        Part(header: FormPart(name: "file", filename: "beach.jpg", contentType: "image/jpeg"), contents: trickyFile),
        Part(header: FormPart(name: "more", filename: "", contentType: "application/octet-stream"), contents: []),
    ]

    @Test func readsAWholeFormInOnePiece() throws {
        #expect(try Self.parts(of: Self.form(file: Self.trickyFile), splitAt: []) == Self.expected)
    }

    @Test func findsEveryBoundaryWhereverThePiecesAreCut() throws {
        let body = Self.form(file: Self.trickyFile)
        for cut in 0...body.count {
            #expect(try Self.parts(of: body, splitAt: [cut]) == Self.expected, "cut at \(cut)")
        }
        #expect(try Self.parts(of: body, splitAt: Array(0...body.count)) == Self.expected, "one byte at a time")
    }

    @Test func ignoresPreambleAndEpilogue() throws {
        let body = Self.form(file: Self.trickyFile, preamble: "This is a MIME message.\r\n", epilogue: "trailing words")
        #expect(try Self.parts(of: body, splitAt: [7, 100]) == Self.expected)
    }

    @Test func acceptsPaddingAfterABoundaryAndAPartWithoutHeaders() throws {
        let body = Array("--\(Self.boundary) \t\r\n\r\nbare\r\n--\(Self.boundary)--".utf8)
        #expect(
            try Self.parts(of: body, splitAt: []) == [
                Part(header: FormPart(name: nil, filename: nil), contents: Array("bare".utf8))
            ])
    }

    @Test func handsContentsOnAsTheyArriveHoldingBackOnlyAPossibleBoundary() throws {
        var reader = MultipartReader(boundary: Self.boundary)
        _ = try reader.read(
            ByteBuffer(string: "--\(Self.boundary)\r\nContent-Disposition: form-data; name=f; filename=a\r\n\r\n"))
        let piece = ByteBuffer(repeating: 0x41, count: 64 * 1024)
        var received = 0
        var handedOn = 0
        for _ in 0..<160 {  // 10 MiB
            received += piece.readableBytes
            for case .bytes(let bytes) in try reader.read(piece) { handedOn += bytes.readableBytes }
            // All but `\r\n--` and the boundary's length minus one could be the start of the next boundary.
            #expect(received - handedOn == 4 + Self.boundary.utf8.count - 1)
        }
    }

    @Test func refusesBrokenForms() {
        let cutOff = Array(Self.form(file: Array("data".utf8)).dropLast(10))
        #expect(throws: MultipartError.truncated) { try Self.parts(of: cutOff, splitAt: []) }
        #expect(throws: MultipartError.truncated) { try Self.parts(of: Array("no boundary at all".utf8), splitAt: []) }
        let glued = Array("--\(Self.boundary)garbage\r\n\r\nx\r\n--\(Self.boundary)--".utf8)
        #expect(throws: MultipartError.malformedBoundaryLine) { try Self.parts(of: glued, splitAt: []) }
        let endless = Array("--\(Self.boundary)\r\nX-Long: \(String(repeating: "a", count: 20_000))".utf8)
        #expect(throws: MultipartError.partHeaderTooLarge) { try Self.parts(of: endless, splitAt: [100]) }
    }

    @Test func takesTheBoundaryFromTheContentType() throws {
        #expect(try MultipartReader.boundary(ofContentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(
            try MultipartReader.boundary(ofContentType: "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b;c\"")
                == "a b;c")
        #expect(try MultipartReader.boundary(ofContentType: "application/octet-stream") == nil)
        #expect(try MultipartReader.boundary(ofContentType: nil) == nil)
        #expect(throws: MultipartError.missingBoundary) {
            try MultipartReader.boundary(ofContentType: "multipart/form-data")
        }
        let tooLong = "multipart/form-data; boundary=" + String(repeating: "b", count: 71)
        #expect(throws: MultipartError.missingBoundary) { try MultipartReader.boundary(ofContentType: tooLong) }
    }
}
