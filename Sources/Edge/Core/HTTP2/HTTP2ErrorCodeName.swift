/// The names RFC 9113 gives HTTP/2 error codes, as logs and fail2ban filters use them.
enum HTTP2ErrorCodeName {
    private static let names = [
        "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
        "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
    ]

    static func of(_ code: UInt32) -> String {
        code < names.count ? names[Int(code)] : "0x" + String(code, radix: 16)
    }
}
