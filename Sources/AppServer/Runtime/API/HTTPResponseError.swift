import HTTPTypes

/// An error that says what the client got wrong. When an app throws one before its response has begun, the
/// worker answers with `status` and `message` (plain text) instead of a 500, and logs the message; the worker
/// and the connection carry on.
///
/// After the response has begun, it is handled like any other error: the connection is cut.
public protocol HTTPResponseError: Error {
    /// A 4xx status, usually.
    var status: HTTPResponse.Status { get }
    /// One line for the client and the log, naming what was wrong.
    var message: String { get }
}
