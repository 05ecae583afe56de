import NIOCore

/// A request body as an async sequence of buffers, with back-pressure: the worker stops reading from the socket
/// while the app has not consumed what arrived.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyReadDelegate
    >

    let producer: Producer?

    init(producer: Producer?) {
        self.producer = producer
    }

    /// An empty body.
    public static let empty = RequestBody(producer: nil)

    /// A body that is all there already, in one piece: for tests (`AppServerTesting`), or for an app that calls one
    /// of its own handlers with a body it made.
    public static func buffered(_ bytes: ByteBuffer) -> RequestBody {
        let sequence = Producer.makeSequence(
            elementType: ByteBuffer.self, failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2), finishOnDeinit: true,
            delegate: BodyReadDelegate(produceMoreHandler: {}, terminateHandler: {}))
        _ = sequence.source.yield(bytes)
        sequence.source.finish()
        return RequestBody(producer: sequence.sequence)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator?

        @concurrent public mutating func next() async throws -> ByteBuffer? {
            try await base?.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: producer?.makeAsyncIterator())
    }

    /// The whole body in one buffer; throws `BodyTooLarge` beyond `limit` bytes.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await var piece in self {
            guard collected.readableBytes + piece.readableBytes <= limit else { throw BodyTooLarge(limit: limit) }
            collected.writeBuffer(&piece)
        }
        return collected
    }
}

/// A body longer than the caller accepts.
public struct BodyTooLarge: Error, CustomStringConvertible {
    public var limit: Int
    public var description: String { "request body larger than \(limit) bytes" }
}

/// Resumes or stops socket reads for a body as the app consumes it.
struct BodyReadDelegate: NIOAsyncSequenceProducerDelegate {
    let produceMoreHandler: @Sendable () -> Void
    let terminateHandler: @Sendable () -> Void

    func produceMore() { produceMoreHandler() }
    func didTerminate() { terminateHandler() }
}
