// Paillier keys and ciphertext arrays in the interconnection runtime format
// (router/he/he_wire.proto, package org.ppc.he): a DataExchangeProtocol message with
// scalar_type 20 whose v_ndarray holds serialized PaillierPublicKey / PaillierCiphertext items.
//
//   public key:   scalar_type_name "paillier_public_key", shape [] (one item); read also
//                 without the envelope (decode_public_key)
//   ciphertexts:  scalar_type_name "paillier_ciphertext", shape as given, row-major items
//
// Decoders throw std::invalid_argument with a message starting "he wire: ".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"

namespace ptp::he {

constexpr int32_t kPaillierScalarType = 20;
inline constexpr std::string_view kPublicKeyTypeName = "paillier_public_key";
inline constexpr std::string_view kCiphertextTypeName = "paillier_ciphertext";

// n and h_s; a key whose h_s was derived locally (hs_derived()) is written as n only, as its
// owner published it.
std::string encode_public_key(const PublicKey& pk);

// A public key is read in either of two forms:
//   envelope: the DataExchangeProtocol above (scalar_type 20, "paillier_public_key", one
//             PaillierPublicKey item), as encode_public_key() writes it;
//   bare:     the PaillierPublicKey message alone, which is the interconnection runtime's own
//             PublicKey {Bigint n = 1; Bigint hs = 2;} (phe.proto), with no envelope.
// They differ in field 1: a varint (scalar_type) in the envelope, a Bigint (n) in the bare key.
enum class PublicKeyForm { kEnvelope, kBare, kUnknown };
PublicKeyForm public_key_form(std::string_view bytes);
// Appended to every format error of decode_public_key.
inline constexpr std::string_view kPublicKeyForms =
    "a public key is accepted as a DataExchangeProtocol with scalar_type 20, scalar_type_name "
    "\"paillier_public_key\" and one PaillierPublicKey item, or as a bare PublicKey {n, hs} "
    "message (phe.proto)";

struct DecodedPublicKey {
  PublicKey key;
  // The message carried n only (hs missing or empty); key.hs() was derived here.
  bool hs_derived = false;
  PublicKeyForm form = PublicKeyForm::kEnvelope;
};
// Accepts both forms. Format errors ("he wire: ...") end with the accepted forms
// (kPublicKeyForms); the key itself is validated (validate_public_key / validate_modulus with
// min_bits) and refused with those functions' messages.
DecodedPublicKey decode_public_key(std::string_view bytes, int min_bits = kMinModulusBits);

// The product of `shape` must equal items.size() (std::invalid_argument otherwise). An empty
// shape is a 0-d array of one item.
std::string encode_ciphertexts(std::span<const Ciphertext> items, std::span<const int64_t> shape);

struct CiphertextArray {
  std::vector<int64_t> shape;
  std::vector<Ciphertext> items;  // row-major
};
// Checks the scalar type and name, that the shape's product equals the item count, and that
// every item is a ciphertext of `pk` (0 < c < n^2).
CiphertextArray decode_ciphertexts(std::string_view bytes, const PublicKey& pk);

// Lowercase hex SHA-256 of n || h_s, each little-endian and zero-padded to a fixed width:
// n to L = ceil(|n| / 8) bytes, h_s to 2L bytes. For a key published as n only (hs_derived())
// the digest covers n alone, so every holder of that key computes the same fingerprint.
std::string public_key_fingerprint(const PublicKey& pk);

}  // namespace ptp::he
