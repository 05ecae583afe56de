/// A value in a config file that cannot be used, with a message that says why.
///
/// Thrown by `Decodable` value types (sizes, durations, addresses); the decoder that catches it
/// adds the file and key path before reporting it.
public struct ConfigValueError: Error, CustomStringConvertible, Sendable {
    /// Why the value cannot be used.
    public var message: String

    /// A problem described by `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
