#include "trust/sm2_verify.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "trust/openssl_ptr.h"
#include "trust/signature_context.h"

namespace ptp {
namespace {

bool is_sm2_issuer_of(X509* issuer, X509* cert) {
  if (!issuer || issuer == cert || X509_check_issued(issuer, cert) != X509_V_OK) return false;
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  return key && EVP_PKEY_is_a(key, "SM2");
}

bool sm2_issued(X509* cert, STACK_OF(X509) * untrusted, STACK_OF(X509) * trusted,
                X509_STORE* store) {
  for (STACK_OF(X509) * s : {untrusted, trusted}) {
    for (int i = 0; s && i < sk_X509_num(s); ++i)
      if (is_sm2_issuer_of(sk_X509_value(s, i), cert)) return true;
  }
  if (trusted || !store) return false;
  STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(store);
  for (int i = 0; objs && i < sk_X509_OBJECT_num(objs); ++i)
    if (is_sm2_issuer_of(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i)), cert)) return true;
  return false;
}

bool set_id(X509* cert) {
  trust::Asn1OctetStringPtr id(ASN1_OCTET_STRING_new());
  if (!id || ASN1_OCTET_STRING_set(
                 id.get(), reinterpret_cast<const unsigned char*>(kSm2DistinguishingId.data()),
                 static_cast<int>(kSm2DistinguishingId.size())) != 1)
    return false;
  X509_set0_distinguishing_id(cert, id.release());
  return true;
}

}  // namespace

bool set_sm2_ids_for_verify(X509_STORE_CTX* sc, STACK_OF(X509) * trusted) {
  STACK_OF(X509)* untrusted = X509_STORE_CTX_get0_untrusted(sc);
  X509_STORE* store = X509_STORE_CTX_get0_store(sc);
  X509* leaf = X509_STORE_CTX_get0_cert(sc);
  if (leaf && sm2_issued(leaf, untrusted, trusted, store) && !set_id(leaf)) return false;
  for (int i = 0; untrusted && i < sk_X509_num(untrusted); ++i) {
    X509* c = sk_X509_value(untrusted, i);
    if (c != leaf && sm2_issued(c, untrusted, trusted, store) && !set_id(c)) return false;
  }
  return true;
}

}  // namespace ptp
