import AppServer
import HTTPTypes
import NIOCore

/// `GET /fortunes`: TechEmpower's fortunes test. Every row of `Fortune`, plus one added at request time, sorted by
/// message, in an HTML table with every value escaped.
enum Fortunes {
    /// TechEmpower's rows (the `<script>` one must arrive escaped, the Japanese one intact).
    static let stored: [Fortune] = [
        Fortune(id: 1, message: "fortune: No such file or directory"),
        Fortune(id: 2, message: "A computer scientist is someone who fixes things that aren't broken."),
        Fortune(id: 3, message: "After enough decimal places, nobody gives a damn."),
        Fortune(id: 4, message: "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
        Fortune(id: 5, message: "A computer program does what you tell it to do, not what you want it to do."),
        Fortune(id: 6, message: "Emacs is a nice operating system, but I prefer UNIX. \u{2014} Tom Christaensen"),
        Fortune(id: 7, message: "Any program that runs right is obsolete."),
        Fortune(id: 8, message: "A list is only as strong as its weakest link. \u{2014} Donald Knuth"),
        Fortune(id: 9, message: "Feature: A bug with seniority."),
        Fortune(id: 10, message: "Computers make very fast, very accurate mistakes."),
        Fortune(
            id: 11, message: "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"),
        Fortune(
            id: 12,
            message:
                "\u{30D5}\u{30EC}\u{30FC}\u{30E0}\u{30EF}\u{30FC}\u{30AF}\u{306E}\u{30D9}\u{30F3}\u{30C1}\u{30DE}\u{30FC}\u{30AF}"
        ),
    ]

    /// The one added to every response, as the test's rules say.
    static let added = Fortune(id: 0, message: "Additional fortune added at request time.")

    static func answer(database: any AppDatabase) async throws -> WorldRoutes.Answer {
        var fortunes = try await database.fortunes()
        fortunes.append(added)
        fortunes.sort { $0.message < $1.message }
        return (.text("text/html; charset=utf-8"), ByteBuffer(string: page(fortunes)))
    }

    /// The page, from its template, with every value escaped.
    static func page(_ fortunes: [Fortune]) -> String {
        var html = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
        html += "<tr><th>id</th><th>message</th></tr>"
        for fortune in fortunes {
            html += "<tr><td>\(fortune.id)</td><td>\(HTMLText.escape(fortune.message))</td></tr>"
        }
        return html + "</table></body></html>"
    }
}
