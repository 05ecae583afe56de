import AppServer
import Foundation
import HTTPTypes
import NIOCore

/// `GET /`: a small page that exercises the whole stack: a static stylesheet and picture through Edge, links to
/// the benchmark routes, an upload form whose files then appear under `/media/`, and the latest uploads as the
/// database lists them (the seed site's form → app → database + media flow, whole).
enum HomePage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>Edge + AppServer</title>
          <link rel="stylesheet" href="/static/site.css">
        </head>
        <body>
          <img src="/static/edge.svg" alt="" width="64" height="64">
          <h1>Edge + AppServer are serving.</h1>
          <p>This page comes from the reference app behind Edge; the stylesheet and picture are static files Edge
             serves itself.</p>
          <ul>
            <li><a href="/plaintext">/plaintext</a> and <a href="/json">/json</a>: the benchmark routes</li>
            <li><a href="/echo?hello=world">/echo</a>: what the app saw of your request</li>
            <li><a href="/db">/db</a>, <a href="/queries?queries=20">/queries</a>,
                <a href="/updates?queries=20">/updates</a>, <a href="/fortunes">/fortunes</a>,
                <a href="/cached-queries?count=20">/cached-queries</a>: the database benchmark routes</li>
            <li><a href="/healthz">/healthz</a></li>
          </ul>
          <form method="post" action="/upload" enctype="multipart/form-data">
            <p>Upload a file; it is then served by Edge as <code>/media/</code> and its name:
               <input type="file" name="file" required> <button>Upload</button></p>
          </form>
        <!--uploads-->
        </body>
        </html>
        """

    /// The page with `uploads` listed (`nil`: the database could not say).
    static func respond(uploads: [StoredUpload]?, writer: some ResponseWriter) async throws {
        let page = html.replacingOccurrences(of: "<!--uploads-->", with: list(uploads))
        try await writer.write(.text("text/html; charset=utf-8"), body: ByteBuffer(string: page))
    }

    static func list(_ uploads: [StoredUpload]?) -> String {
        guard let uploads else { return "  <p>Recent uploads cannot be listed right now.</p>" }
        guard !uploads.isEmpty else { return "  <p>No uploads yet.</p>" }
        let rows = uploads.map { upload in
            let name = HTMLText.escape(upload.name)
            return "    <tr><td><a href=\"/media/\(name)\">\(name)</a></td><td>\(upload.size)</td>"
                + "<td>\(HTMLText.escape(upload.contentType))</td><td><code>\(upload.sha256.prefix(16))</code></td>"
                + "<td>\(ISO8601DateFormatter().string(from: upload.storedAt))</td></tr>"
        }
        return "  <h2>Recent uploads</h2>\n  <table>\n    <tr><th>file</th><th>bytes</th><th>type</th><th>SHA-256</th>"
            + "<th>stored</th></tr>\n" + rows.joined(separator: "\n") + "\n  </table>"
    }
}
