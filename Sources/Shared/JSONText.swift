import NIOCore

/// JSON string literals, for the log lines both servers write as JSON.
public enum JSONText {
    /// Writes `text` as a JSON string, quotes included: `"`, `\` and control characters escaped, everything else
    /// as its UTF-8 bytes.
    public static func write(_ text: String, into buffer: inout ByteBuffer) {
        LineWriter.write(into: &buffer, room: LineWriter.room(forText: text.utf8.count, fixedBytes: 2)) {
            $0.appendJSONString(text)
        }
    }
}
