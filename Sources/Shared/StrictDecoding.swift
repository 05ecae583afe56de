import Yams

/// A coding key for any string, used to list the keys a mapping actually contains.
public struct AnyCodingKey: CodingKey, Hashable {
    public var stringValue: String
    public var intValue: Int?

    public init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    public init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// Records every key of this mapping that `Keys` does not know: a misspelt key is an error, never ignored.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) {
        guard let container = try? container(keyedBy: AnyCodingKey.self) else { return }
        let known = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys where !known.contains(key.stringValue) {
            let suggestion = known.sorted().first { $0.isSimilar(to: key.stringValue) }
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            diagnostics.record("unknown key '\(key.stringValue)'\(hint)", at: codingPath + [key])
        }
    }

    /// The keyed container of this mapping, with unknown keys recorded; `nil` (and a recorded problem) when the
    /// value is not a mapping at all.
    public func strictContainer<Keys: CodingKey & CaseIterable>(
        keyedBy keys: Keys.Type
    ) -> KeyedDecodingContainer<Keys>? {
        do {
            let container = try container(keyedBy: keys)
            rejectUnknownKeys(keys)
            return container
        } catch {
            diagnostics.record("expected a mapping of keys to values", at: codingPath)
            return nil
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `defaultValue` when absent. A value that fails to decode is recorded as a
    /// problem (with its key path) and replaced by `defaultValue`, so one bad key does not hide the others.
    public func value<T: Decodable>(
        _ key: Key,
        default defaultValue: @autoclosure () -> T,
        _ decoder: any Decoder
    ) -> T {
        guard contains(key) else { return defaultValue() }
        do {
            if try decodeNil(forKey: key) { return defaultValue() }
            return try decode(T.self, forKey: key)
        } catch {
            recordDecodingProblem(error, at: codingPath + [key], decoder.diagnostics)
            return defaultValue()
        }
    }

    /// The value at `key`; records "missing key" and returns `nil` when absent or invalid.
    public func required<T: Decodable>(_ key: Key, _ decoder: any Decoder) -> T? {
        guard contains(key) else {
            decoder.diagnostics.record("missing required key '\(key.stringValue)'", at: codingPath)
            return nil
        }
        do {
            return try decode(T.self, forKey: key)
        } catch {
            recordDecodingProblem(error, at: codingPath + [key], decoder.diagnostics)
            return nil
        }
    }
}

/// Turns a `DecodingError` or `ConfigValueError` into one readable problem line.
func recordDecodingProblem(_ error: any Error, at path: [any CodingKey], _ diagnostics: ConfigDiagnostics) {
    switch error {
    case let error as ConfigValueError:
        diagnostics.record(error.message, at: path)
    case DecodingError.typeMismatch(let type, let context):
        diagnostics.record("expected \(describe(type))", at: context.codingPath.isEmpty ? path : context.codingPath)
    case DecodingError.valueNotFound(let type, let context):
        diagnostics.record(
            "expected \(describe(type)), found nothing", at: context.codingPath.isEmpty ? path : context.codingPath)
    case DecodingError.keyNotFound(let key, let context):
        diagnostics.record("missing required key '\(key.stringValue)'", at: context.codingPath)
    case DecodingError.dataCorrupted(let context):
        let message: String
        if let yamlError = context.underlyingError as? YamlError {
            message = "not valid YAML: \(yamlError)"
        } else {
            message = context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        diagnostics.record(message, at: context.codingPath.isEmpty ? path : context.codingPath)
    default:
        diagnostics.record("\(error)", at: path)
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Int.Type, is Int64.Type, is UInt16.Type: return "a whole number"
    case is Bool.Type: return "true or false"
    default:
        let name = "\(type)"
        if name.hasSuffix("Scalar") { return "a single value, not a list or mapping" }
        if name.hasSuffix("Mapping") { return "a mapping of keys to values" }
        if name.hasSuffix("Sequence") || name.hasPrefix("Array") { return "a list" }
        if name.hasPrefix("Dictionary") { return "a mapping" }
        return "a value of type \(name)"
    }
}

extension String {
    /// True when `other` differs from this string by a small edit: used for "did you mean" hints.
    func isSimilar(to other: String) -> Bool {
        let a = Array(self), b = Array(other)
        guard abs(a.count - b.count) <= 2 else { return false }
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1..<(b.count + 1) {
                current[j] = Swift.min(
                    previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count] <= 2
    }
}
