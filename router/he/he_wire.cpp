#include "router/he/he_wire.h"

#include <google/protobuf/unknown_field_set.h>
#include <openssl/evp.h>

#include <climits>
#include <stdexcept>

#include "codecs/hex.h"
#include "router/he/he_wire.pb.h"

namespace ptp::he {
namespace {

namespace pb = org::ppc::he;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("he wire: " + what); }

void to_bigint(const BIGNUM* v, pb::Bigint* out) {
  out->set_is_neg(BN_is_negative(v) != 0);
  out->set_little_endian_value(bn_to_le(v));
}

Bn from_bigint(const pb::Bigint& in) {
  const std::string& le = in.little_endian_value();
  Bn v = bn_from_le({reinterpret_cast<const uint8_t*>(le.data()), le.size()});
  if (in.is_neg() && !BN_is_zero(v.get())) BN_set_negative(v.get(), 1);
  return v;
}

std::string shape_text(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

// Number of elements of `shape` (1 for []); -1 on a negative dimension or overflow.
int64_t element_count(std::span<const int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(count, d, &count)) return -1;
  }
  return count;
}

std::string serialize(const pb::DataExchangeProtocol& msg) {
  std::string out;
  if (!msg.SerializeToString(&out)) throw std::runtime_error("he wire: serialization failed");
  return out;
}

// Parses a DataExchangeProtocol and checks its type, name and shape against the item count.
pb::DataExchangeProtocol parse(std::string_view bytes, std::string_view type_name) {
  pb::DataExchangeProtocol msg;
  if (bytes.size() > static_cast<size_t>(INT_MAX)) fail("message larger than 2 GiB");
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    fail("not a DataExchangeProtocol message");
  }
  if (msg.scalar_type() != kPaillierScalarType) {
    fail("scalar_type " + std::to_string(msg.scalar_type()) + ", expected " +
         std::to_string(kPaillierScalarType));
  }
  if (msg.scalar_type_name() != type_name) {
    fail("scalar_type_name \"" + msg.scalar_type_name() + "\", expected \"" +
         std::string(type_name) + "\"");
  }
  const auto& shape = msg.v_ndarray().shape();
  std::span<const int64_t> dims(shape.data(), static_cast<size_t>(shape.size()));
  const int64_t count = element_count(dims);
  if (count < 0) fail("invalid shape " + shape_text(dims));
  if (count != msg.v_ndarray().items_size()) {
    fail("shape " + shape_text(dims) + " has " + std::to_string(count) + " elements but " +
         std::to_string(msg.v_ndarray().items_size()) + " items were sent");
  }
  return msg;
}

}  // namespace

std::string encode_public_key(const PublicKey& pk) {
  pb::PaillierPublicKey key;
  to_bigint(pk.n(), key.mutable_n());
  if (!pk.hs_derived()) to_bigint(pk.hs(), key.mutable_hs());
  pb::DataExchangeProtocol msg;
  msg.set_scalar_type(kPaillierScalarType);
  msg.set_scalar_type_name(std::string(kPublicKeyTypeName));
  *msg.mutable_v_ndarray()->add_items() = key.SerializeAsString();
  return serialize(msg);
}

PublicKeyForm public_key_form(std::string_view bytes) {
  // Field 1 tells the forms apart: the envelope's scalar_type is a varint, the bare key's n a
  // length-delimited Bigint. Fields may come in any order, so look at all of them.
  google::protobuf::UnknownFieldSet fields;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return PublicKeyForm::kUnknown;
  bool array = false;
  for (int i = 0; i < fields.field_count(); ++i) {
    const auto& f = fields.field(i);
    if (f.number() == 1 && f.type() == google::protobuf::UnknownField::TYPE_VARINT)
      return PublicKeyForm::kEnvelope;
    if (f.number() == 1 && f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      return PublicKeyForm::kBare;
    array = array || f.number() == 9;
  }
  // No field 1: an envelope whose scalar_type is 0 (proto3 omits it), or neither form.
  return array ? PublicKeyForm::kEnvelope : PublicKeyForm::kUnknown;
}

DecodedPublicKey decode_public_key(std::string_view bytes, int min_bits) {
  pb::PaillierPublicKey key;
  const PublicKeyForm form = public_key_form(bytes);
  try {
    if (form == PublicKeyForm::kUnknown) fail("not a public key");
    if (form == PublicKeyForm::kEnvelope) {
      pb::DataExchangeProtocol msg = parse(bytes, kPublicKeyTypeName);
      if (msg.v_ndarray().items_size() != 1)
        fail("a public key is one item, got " + std::to_string(msg.v_ndarray().items_size()));
      if (!key.ParseFromString(msg.v_ndarray().items(0))) fail("item is not a PaillierPublicKey");
    } else if (!key.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      fail("not a PublicKey message");
    }
    if (!key.has_n()) fail("public key without n");
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(e.what()) + " (" + std::string(kPublicKeyForms) + ")");
  }
  Bn n = from_bigint(key.n());
  if (BN_is_negative(n.get())) fail("public key n is negative");
  const bool derive = !key.has_hs() || key.hs().little_endian_value().empty();
  if (derive) return {PublicKey::from_modulus(n.get(), min_bits), true, form};
  Bn hs = from_bigint(key.hs());
  return {PublicKey(n.get(), hs.get(), min_bits), false, form};
}

std::string encode_ciphertexts(std::span<const Ciphertext> items, std::span<const int64_t> shape) {
  const int64_t count = element_count(shape);
  if (count < 0 || static_cast<uint64_t>(count) != items.size()) {
    throw std::invalid_argument("he wire: shape " + shape_text(shape) + " does not hold " +
                                std::to_string(items.size()) + " items");
  }
  pb::DataExchangeProtocol msg;
  msg.set_scalar_type(kPaillierScalarType);
  msg.set_scalar_type_name(std::string(kCiphertextTypeName));
  auto* array = msg.mutable_v_ndarray();
  for (int64_t d : shape) array->add_shape(d);
  array->mutable_items()->Reserve(static_cast<int>(items.size()));
  pb::PaillierCiphertext item;
  for (const Ciphertext& c : items) {
    to_bigint(c.get(), item.mutable_c());
    item.SerializeToString(array->add_items());
  }
  return serialize(msg);
}

CiphertextArray decode_ciphertexts(std::string_view bytes, const PublicKey& pk) {
  pb::DataExchangeProtocol msg = parse(bytes, kCiphertextTypeName);
  CiphertextArray out;
  out.shape.assign(msg.v_ndarray().shape().begin(), msg.v_ndarray().shape().end());
  out.items.reserve(static_cast<size_t>(msg.v_ndarray().items_size()));
  pb::PaillierCiphertext item;
  for (int i = 0; i < msg.v_ndarray().items_size(); ++i) {
    if (!item.ParseFromString(msg.v_ndarray().items(i))) {
      fail("item " + std::to_string(i) + " is not a PaillierCiphertext");
    }
    Bn c = from_bigint(item.c());
    try {
      check_ciphertext(pk, c.get());
    } catch (const std::invalid_argument& e) {
      fail("item " + std::to_string(i) + ": " + e.what());
    }
    out.items.emplace_back(std::move(c));
  }
  return out;
}

std::string public_key_fingerprint(const PublicKey& pk) {
  const size_t len = static_cast<size_t>(BN_num_bytes(pk.n()));
  std::string data = bn_to_le_padded(pk.n(), len);
  if (!pk.hs_derived()) data += bn_to_le_padded(pk.hs(), 2 * len);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr)) {
    throw std::runtime_error("he wire: SHA-256 failed");
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), md_len));
}

}  // namespace ptp::he
