import NIOCore
import Testing

@testable import Shared

@Suite struct HeadBytesTests {
    @Test func piecesOfEveryKindLandInOrderAndTheBlockGrows() {
        var head = HeadBytes(capacity: 8)  // smaller than the head: it has to grow twice
        head.append("HTTP/1.1 ")
        head.append(decimal: 200)
        head.append(" OK\r\n")
        let name = "X-Long-Header-Name"
        head.append(string: name)
        head.append(": ")
        head.append(ByteBuffer(string: String(repeating: "v", count: 100)))
        "\r\n".utf8.withContiguousStorageIfAvailable { head.append(UnsafeRawBufferPointer($0)) }

        var buffer = ByteBuffer()
        buffer.writeHead(head)
        #expect(
            buffer.readString(length: buffer.readableBytes)
                == "HTTP/1.1 200 OK\r\nX-Long-Header-Name: \(String(repeating: "v", count: 100))\r\n")
    }

    @Test(arguments: [0, 7, 10, 4096, -42, Int.max, Int.min])
    func decimalsMatchTheirStringForm(value: Int) {
        var head = HeadBytes(capacity: 4)
        head.append(decimal: value)
        head.withBytes { #expect(String(decoding: $0, as: UTF8.self) == String(value)) }
    }
}
