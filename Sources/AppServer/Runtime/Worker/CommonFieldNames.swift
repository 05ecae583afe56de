import HTTPTypes
import Shared

/// The field names most requests carry, recognised from their bytes so they cost no string building or validation.
///
/// `HTTPField.Name(_:)` copies, validates and lowercases every name; for the dozen names behind nearly every request
/// that was a visible share of a worker's time per request. A recognised name takes its canonical spelling
/// (`User-Agent`); names compare case-insensitively everywhere, so only `rawName` can tell.
enum CommonFieldNames {
    static func name(_ bytes: UnsafeRawBufferPointer) -> HTTPField.Name? {
        func matches(_ lowercase: StaticString) -> Bool { ASCII.equalsIgnoringCase(bytes, lowercase) }
        switch bytes.count {
        case 6:
            if matches("accept") { return .accept }
            if matches("cookie") { return .cookie }
            if matches("origin") { return .origin }
        case 7:
            if matches("referer") { return .referer }
        case 9:
            if matches("x-real-ip") { return .xRealIP }
        case 10:
            if matches("user-agent") { return .userAgent }
            if matches("connection") { return .connection }
        case 12:
            if matches("content-type") { return .contentType }
            if matches("x-request-id") { return .xRequestID }
        case 13:
            if matches("authorization") { return .authorization }
            if matches("cache-control") { return .cacheControl }
            if matches("if-none-match") { return .ifNoneMatch }
        case 14:
            if matches("content-length") { return .contentLength }
        case 15:
            if matches("accept-encoding") { return .acceptEncoding }
            if matches("accept-language") { return .acceptLanguage }
            if matches("x-forwarded-for") { return .xForwardedFor }
        case 16:
            if matches("x-forwarded-host") { return .xForwardedHost }
            if matches("x-forwarded-port") { return .xForwardedPort }
        case 17:
            if matches("x-forwarded-proto") { return .xForwardedProto }
            if matches("if-modified-since") { return .ifModifiedSince }
            if matches("transfer-encoding") { return .transferEncoding }
        default:
            break
        }
        return nil
    }
}
