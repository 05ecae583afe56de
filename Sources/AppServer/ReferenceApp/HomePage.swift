import AppServer
import HTTPTypes
import NIOCore

/// `GET /`: a small page that exercises the whole stack: a static stylesheet and picture through Edge, links to
/// the benchmark routes, and an upload form whose files then appear under `/media/`.
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
            <li><a href="/healthz">/healthz</a></li>
          </ul>
          <form method="post" action="/upload" enctype="multipart/form-data">
            <p>Upload a file; it is then served by Edge as <code>/media/</code> and its name:
               <input type="file" name="file" required> <button>Upload</button></p>
          </form>
        </body>
        </html>
        """

    static func respond(writer: some ResponseWriter) async throws {
        try await writer.write(.text("text/html; charset=utf-8"), body: ByteBuffer(string: html))
    }
}
