import W3CTraceContext

/// Reads the trace id out of a `traceparent` value (W3C Trace Context), for the access log and `AppRequest`.
enum TraceParent {
    /// The trace id (32 lowercase hex digits), or `nil` when `value` is not a valid `traceparent`.
    static func traceID(of value: some StringProtocol) -> String? {
        (try? TraceContext(traceParentHeaderValue: String(value)))?.traceID.description
    }
}
