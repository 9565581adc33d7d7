// SM2-signed certificates in an OpenSSL chain check (docs/identity.md "SM2 notes"): OpenSSL
// 3.0's X509_verify_cert checks a certificate's SM2 signature with the distinguishing ID the
// certificate object carries, and a parsed certificate carries none, so a TLS leaf an SM2
// node root issued fails ("certificate signature failure"). For the TLS verify callbacks
// of the PTP port and of pinned peers.
#pragma once

#include <openssl/x509_vfy.h>

namespace ptp {

// Before X509_verify_cert(sc): sets the default SM2 ID (kSm2DistinguishingId) on each
// certificate of sc's chain to check (its leaf and untrusted certificates) whose issuer has
// an SM2 key. Issuers are looked for among the untrusted certificates, `trusted` and, when
// `trusted` is null, the certificates of sc's store. Certificates under other issuers are
// left alone. False only when OpenSSL cannot allocate the ID.
bool set_sm2_ids_for_verify(X509_STORE_CTX* sc, STACK_OF(X509) * trusted);

}  // namespace ptp
