import Crypto
import Foundation
import NIOSSL
import _CryptoExtras

/// What `edge --check` (and every start and reload) verifies about one certificate/key pair: both files load, the
/// key belongs to the leaf certificate, the leaf is valid now, and the key file is private.
struct CertificateInspection {
    /// Problems that make the pair unusable.
    var errors: [String] = []
    /// Problems worth a warning: expiring within `expiryWarning`, key readable by others.
    var warnings: [String] = []
    /// The leaf's DNS names, when it loaded.
    var names: [String] = []

    /// Certificates expiring sooner than this are reported.
    static let expiryWarning: TimeInterval = 14 * 24 * 3600

    init(_ pair: CertificatePairConfig, now: Date = Date()) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(pair.cert)
        } catch {
            errors.append("cannot read certificate \(pair.cert): \(error)")
            return
        }
        guard let leaf = chain.first else {
            errors.append("no PEM certificate in \(pair.cert)")
            return
        }
        names = leaf.dnsNames
        inspectValidity(of: leaf, file: pair.cert, now: now)
        inspectKey(pair, leaf: leaf)
    }

    private mutating func inspectValidity(of leaf: NIOSSLCertificate, file: String, now: Date) {
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let notBefore = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        if notAfter <= now {
            errors.append("certificate \(file) expired on \(Self.format(notAfter))")
        } else if notAfter.timeIntervalSince(now) < Self.expiryWarning {
            warnings.append("certificate \(file) expires on \(Self.format(notAfter)), in less than 14 days")
        }
        if notBefore > now {
            warnings.append("certificate \(file) is not valid before \(Self.format(notBefore))")
        }
    }

    private mutating func inspectKey(_ pair: CertificatePairConfig, leaf: NIOSSLCertificate) {
        guard let pem = FileManager.default.contents(atPath: pair.key) else {
            errors.append("cannot read key \(pair.key) (missing or not readable by this user)")
            return
        }
        do {
            _ = try NIOSSLPrivateKey(bytes: Array(pem), format: .pem)
        } catch {
            errors.append("cannot read key \(pair.key): not a PEM private key (\(error))")
            return
        }
        if let keySPKI = Self.publicKeyInfo(ofPEMKey: String(decoding: pem, as: UTF8.self)),
            let certificateSPKI = try? leaf.extractPublicKey().toSPKIBytes(), keySPKI != certificateSPKI
        {
            errors.append("key \(pair.key) does not belong to certificate \(pair.cert)")
        }
        var status = stat()
        if stat(pair.key, &status) == 0, status.st_mode & S_IROTH != 0 {
            warnings.append("key \(pair.key) is readable by every user; chmod o-r it")
        }
    }

    /// The SubjectPublicKeyInfo of an RSA or ECDSA private key, `nil` for kinds this check does not know.
    private static func publicKeyInfo(ofPEMKey pem: String) -> [UInt8]? {
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) {
            return Array(key.publicKey.derRepresentation)
        }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: pem) {
            return Array(key.publicKey.derRepresentation)
        }
        if let key = try? P521.Signing.PrivateKey(pemRepresentation: pem) {
            return Array(key.publicKey.derRepresentation)
        }
        if let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) {
            return Array(key.publicKey.derRepresentation)
        }
        return nil
    }

    private static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }
}

extension NIOSSLCertificate {
    /// The DNS names a client may reach this certificate by: its subject alternative names, or its common name when
    /// it has none (old certificates).
    var dnsNames: [String] {
        let alternatives = _subjectAlternativeNames().compactMap { name -> String? in
            guard name.nameType == .dnsName else { return nil }
            return name.contents.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }.lowercased()
        }
        if !alternatives.isEmpty { return alternatives }
        return subjectName.filter { $0.type == .commonName }.map { $0.value.lowercased() }
    }
}
