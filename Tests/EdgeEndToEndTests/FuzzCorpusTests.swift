import Foundation
import TestSupport
import Testing

/// The suite's share of fuzzing (scripts/fuzz runs libFuzzer): every target's seed corpus, and anything a fuzzing
/// run found and committed there, goes through the target once without a crash.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus").path

    @Test(arguments: [
        "request-parser", "response-parser", "chunked-body", "range", "accept-encoding", "request-path", "forwarded",
        "config",
    ])
    func seedCorpusRunsClean(target: String) throws {
        let directory = Self.corpus + "/" + target
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { directory + "/" + $0 }
        #expect(!files.isEmpty)
        let (status, output) = try runToCompletion(builtProduct("fuzz"), [target] + files)
        #expect(status == 0, "\(output)")
    }
}
