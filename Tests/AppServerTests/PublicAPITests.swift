import Foundation
import Testing

/// The public API of the `AppServer` and `AppServerTesting` products is what docs/appserver.md lists under "Public
/// API": every `public` declaration in their sources, file by file. Making something public (or no longer public)
/// without saying so in the docs fails here, with the list as it should read.
@Suite struct PublicAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theDocsListEveryPublicDeclaration() throws {
        let declared = try Self.publicDeclarations(in: ["Sources/AppServer/Runtime", "Sources/AppServer/Testing"])
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/appserver.md"), encoding: .utf8)
        let listed = Self.listedDeclarations(in: docs)
        #expect(
            listed == declared,
            """
            docs/appserver.md's "Public API" block should read:
            ```text
            \(declared.joined(separator: "\n"))
            ```
            """)
    }

    /// `path/File.swift: public declaration`, one per public declaration (its signature up to the body), sorted.
    static func publicDeclarations(in folders: [String]) throws -> [String] {
        var found: [String] = []
        for folder in folders {
            let base = root.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            for file in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                let name = folder.split(separator: "/").last! + "/" + file
                found += declarations(in: text).map { "\(name): \($0)" }
            }
        }
        return found.sorted()
    }

    /// Each declaration that starts with `public` (after attributes), joined across lines until its parentheses
    /// close, and cut before its body.
    static func declarations(in text: String) -> [String] {
        var result: [String] = []
        var pending: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var trimmed = line.trimmingCharacters(in: .whitespaces)
            while trimmed.hasPrefix("@"), let space = trimmed.firstIndex(of: " ") {
                trimmed = String(trimmed[trimmed.index(after: space)...])
            }
            if pending == nil {
                guard trimmed.hasPrefix("public ") else { continue }
                pending = trimmed
            } else {
                pending! += (pending!.hasSuffix("(") || trimmed.hasPrefix(")") ? "" : " ") + trimmed
            }
            let open = pending!.filter { $0 == "(" }.count
            let close = pending!.filter { $0 == ")" }.count
            guard open == close else { continue }
            var declaration = pending!
            if let body = declaration.range(of: " {") { declaration = String(declaration[..<body.lowerBound]) }
            declaration = declaration.replacingOccurrences(of: ", )", with: ")")
            // A stored property's initial value is not part of its API.
            if declaration.contains(" let ") || declaration.contains(" var "),
                let value = declaration.range(of: " = ")
            {
                declaration = String(declaration[..<value.lowerBound])
            }
            result.append(declaration)
            pending = nil
        }
        return result
    }

    /// The lines of the fenced block after the "## Public API" heading.
    static func listedDeclarations(in docs: String) -> [String] {
        guard let section = docs.range(of: "## Public API"),
            let start = docs.range(of: "```text\n", range: section.upperBound..<docs.endIndex),
            let end = docs.range(of: "```", range: start.upperBound..<docs.endIndex)
        else { return [] }
        return docs[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
    }
}
