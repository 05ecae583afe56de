import Foundation

/// One scrape of a `/metrics` page, parsed: each sample by its name and labels.
public struct PrometheusScrape: Sendable {
    public let text: String
    private let samples: [(name: String, labels: [String: String], value: Double)]

    public init(_ text: String) {
        self.text = text
        samples = text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "),
                let value = Double(line[line.index(after: space)...])
            else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return (String(series), [:], value) }
            var labels: [String: String] = [:]
            // Label values here never hold `",`; a split is enough for the tests' own series.
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)]
                .split(separator: "\",")
            {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].drop { $0 == "\"" }.prefix { $0 != "\"" })
            }
            return (String(series[..<brace]), labels, value)
        }
    }

    /// Fetches `url` (the admin listener's `/metrics`) with curl.
    public static func fetch(_ url: String) throws -> PrometheusScrape {
        PrometheusScrape(try runToCompletion("/usr/bin/curl", ["-sf", "--max-time", "10", url]).output)
    }

    /// The sum of every sample of `name` whose labels include `labels`; 0 when there is none (a series appears
    /// only once something is counted in it).
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }.reduce(0) { $0 + $1.value }
    }

    /// What `promtool check metrics` says of this page: `nil` when it passes, its complaints otherwise.
    public func promtoolProblems() throws -> String? {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("scrape-\(UUID().uuidString).txt")
        try text.write(to: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: input) }
        let result = try runToCompletion("/bin/sh", ["-c", "promtool check metrics < '\(input.path)' 2>&1"])
        return result.status == 0 ? nil : result.output
    }
}
