import NIOCore

/// The bytes of a message head, gathered in one growable memory block and written to a `ByteBuffer` with one call.
///
/// A proxied exchange encodes two heads of two dozen small pieces each. Every `ByteBuffer.write…` call runs NIO's
/// capacity and uniqueness checks through code that is not specialised across the module boundary (about 125
/// instructions a call in the profile), and `Array.append(contentsOf:)` was not much cheaper; here a piece is a
/// bounds check and a `memcpy`.
public struct HeadBytes: ~Copyable {
    // Usable from inlinable code: the appends are inlined into the modules that build heads, where a literal's
    // length is a constant (an out-of-line call per piece was most of a piece's cost).
    @usableFromInline var start: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    @usableFromInline var used = 0

    /// Bytes gathered so far.
    public var count: Int { used }

    /// An empty head with room for `capacity` bytes; it grows when a piece does not fit.
    public init(capacity: Int) {
        self.capacity = max(capacity, 64)
        self.start = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 1)
    }

    deinit {
        start.deallocate()
    }

    @inlinable @inline(__always)
    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        reserve(raw.count)
        (start + used).copyMemory(from: source, byteCount: raw.count)
        used += raw.count
    }

    @inlinable @inline(__always)
    public mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Labelled so string literals pick the `StaticString` overload (no retain, no release) rather than this one.
    @inlinable
    public mutating func append(string text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public mutating func append(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { append($0) }
    }

    /// `value` in decimal, without making a `String`.
    public mutating func append(decimal value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for any Int with its sign
        withUnsafeMutableBytes(of: &digits) { scratch in
            var magnitude = value.magnitude
            var index = scratch.count
            repeat {
                index -= 1
                scratch[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                index -= 1
                scratch[index] = UInt8(ascii: "-")
            }
            append(UnsafeRawBufferPointer(rebasing: scratch[index...]))
        }
    }

    /// The bytes so far, valid while this value is not changed.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: start, count: used))
    }

    @inlinable @inline(__always)
    mutating func reserve(_ extra: Int) {
        guard used + extra > capacity else { return }
        grow(toFit: extra)
    }

    @usableFromInline
    mutating func grow(toFit extra: Int) {
        let grown = max(capacity * 2, used + extra)
        let moved = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 1)
        moved.copyMemory(from: start, byteCount: used)
        start.deallocate()
        start = moved
        capacity = grown
    }
}

extension ByteBuffer {
    /// Appends a head built with `HeadBytes`.
    public mutating func writeHead(_ head: borrowing HeadBytes) {
        head.withBytes { _ = writeBytes($0) }
    }
}
