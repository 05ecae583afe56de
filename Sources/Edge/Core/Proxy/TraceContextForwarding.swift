import Shared
import W3CTraceContext

/// `trace_context`: how Edge takes part in W3C Trace Context on proxied requests.
public enum TraceContextMode: String, Sendable, Hashable, Decodable, CaseIterable {
    /// A valid incoming `traceparent` (with its `tracestate`) goes to the upstream as it came, and its trace id
    /// into Edge's log lines; an invalid one is not passed on. The default.
    case pass
    /// As `pass`, and a request without a valid `traceparent` gets a new one (a new trace id, sampled), so every
    /// proxied request's lines carry a trace id the app's own spans can join.
    case start

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mode = Self(rawValue: text) else {
            throw ConfigValueError("must be pass or start, not '\(text)'")
        }
        self = mode
    }
}

/// The trace context a proxied request carries upstream, and the trace id its log lines name.
struct ForwardedTrace: Sendable, Equatable {
    /// The `traceparent` value sent upstream.
    var traceParent: String
    /// The `tracestate` value sent upstream, if any.
    var traceState: String?
    /// The trace id (32 lowercase hex digits), for the access and error logs.
    var traceID: String

    /// The trace to forward for a request with `headers`: the client's when it is valid, a new one under
    /// `.start`, none otherwise. A `tracestate` that does not parse is dropped, and the `traceparent` kept (W3C
    /// Trace Context §3.3.1.1: the two are validated separately).
    static func forRequest(_ headers: HeaderFields, mode: TraceContextMode) -> ForwardedTrace? {
        if let parent = headers.first("traceparent") {
            let state = headers.all("tracestate").joined(separator: ",")
            let withState =
                state.isEmpty ? nil : try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: state)
            if let context = withState ?? (try? TraceContext(traceParentHeaderValue: parent)) {
                return ForwardedTrace(
                    traceParent: context.traceParentHeaderValue, traceState: context.traceStateHeaderValue,
                    traceID: context.traceID.description)
            }
        }
        guard mode == .start else { return nil }
        let started = TraceContext(traceID: .random(), spanID: .random(), flags: .sampled, state: TraceState())
        return ForwardedTrace(
            traceParent: started.traceParentHeaderValue, traceState: nil, traceID: started.traceID.description)
    }
}
