import Testing

@testable import Shared

/// A small config type decoded the way Edge's and AppServer's are.
private struct Sample: Decodable {
    enum Keys: String, CodingKey, CaseIterable { case size, timeout, name }
    var size = ByteSize(bytes: 1)
    var timeout = ConfigDuration.seconds(1)
    var name = "x"

    init(from decoder: any Decoder) throws {
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        size = container.value(.size, default: size, decoder)
        timeout = container.value(.timeout, default: timeout, decoder)
        name = container.value(.name, default: name, decoder)
    }
}

@Suite struct StrictDecodingTests {
    private func problems(_ yaml: String) -> [String] {
        do {
            let diagnostics = ConfigDiagnostics(file: "s.yaml")
            _ = try ConfigFile.decode(Sample.self, from: yaml, diagnostics: diagnostics)
            try diagnostics.throwIfErrors()
            return []
        } catch let error as ConfigProblems {
            return error.problems.map(\.description)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func reportsEveryProblemWithItsKey() {
        let found = problems("size: huge\ntimeout: forever\nnmae: y\n")
        #expect(found.count == 3)
        #expect(found.contains { $0.hasPrefix("s.yaml: size: invalid size 'huge'") })
        #expect(found.contains { $0.hasPrefix("s.yaml: timeout: invalid duration 'forever'") })
        #expect(found.contains("s.yaml: nmae: unknown key 'nmae' (did you mean 'name'?)"))
    }

    @Test func emptyFileMeansDefaults() throws {
        let value = try ConfigFile.decode(Sample.self, from: "\n", diagnostics: ConfigDiagnostics(file: "s.yaml")).value
        #expect(value.size.bytes == 1)
    }

    @Test func invalidYAMLIsOneLine() {
        let found = problems("size: [unclosed\n")
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("s.yaml: not valid YAML"))
        #expect(!found[0].contains("\n"))
    }

    @Test func wrongTypeIsNamed() {
        #expect(problems("name: [1, 2]\n") == ["s.yaml: name: expected a single value, not a list or mapping"])
    }
}
