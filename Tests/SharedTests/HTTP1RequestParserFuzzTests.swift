import NIOCore
import Testing

@testable import Shared

/// Random and mutated input must never crash the parser or make it loop: it ends in events, a need for more
/// bytes, or an error — nothing else.
@Suite struct HTTP1RequestParserFuzzTests {
    let seeds = [
        "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n",
        "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ]

    @Test func mutatedRequestsNeverCrashOrHang() {
        var generator = SplitMix64(seed: 0x5EED)
        let interesting: [UInt8] = Array(" \t\r\n:;/%0fF-\u{0}\u{7f}\u{ff}".utf8)
        for iteration in 0..<20_000 {
            var bytes = Array(seeds[iteration % seeds.count].utf8)
            for _ in 0..<Int(generator.next() % 4 + 1) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[position] = interesting[Int(generator.next() % UInt64(interesting.count))]
                case 1: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                case 2: bytes.remove(at: position)
                default: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                }
                if bytes.isEmpty { bytes = [0x47] }
            }
            feed(bytes, splitAt: Int(generator.next() % UInt64(bytes.count + 1)))
        }
    }

    @Test func randomBytesNeverCrashOrHang() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<5_000 {
            let bytes = (0..<Int(generator.next() % 300)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            feed(bytes, splitAt: bytes.count / 2)
        }
    }

    /// Feeds `bytes` in two pieces and drains events; the loop must terminate.
    private func feed(_ bytes: [UInt8], splitAt split: Int) {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 64, maxHeaderSize: 256, maxHeaderCount: 20))
        for piece in [bytes[..<split], bytes[split...]] {
            parser.append(ByteBuffer(bytes: piece))
            var steps = 0
            do {
                while try parser.next() != nil {
                    steps += 1
                    if steps > 10_000 {
                        Issue.record("parser did not stop on \(bytes)")
                        return
                    }
                }
            } catch {
                return  // refusing is a fine outcome
            }
        }
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
