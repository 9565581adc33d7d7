#include <doctest/doctest.h>
#include <openssl/bn.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/he_wire.h"
#include "router/he/he_wire.pb.h"
#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"

using namespace ptp::he;
namespace pb = org::ppc::he;

namespace {

constexpr int kTestBits = 1024;

const PrivateKey& wire_key() {
  static const PrivateKey key = generate_private_key(kTestBits, kTestBits);
  return key;
}

Bn hex(const char* s) {
  BIGNUM* b = nullptr;
  REQUIRE(BN_hex2bn(&b, s) > 0);
  return Bn(b);
}

// A fixed 512-bit key; the fingerprints were computed independently with Python:
//   L = 64; sha256(n.to_bytes(L, 'little') + hs.to_bytes(2 * L, 'little')).hexdigest()
//   and sha256(n.to_bytes(L, 'little')).hexdigest() for the n-only form.
constexpr const char* kFixedN =
    "C58A3252331FFDF9F02582FB14D953318E94B34AC7064B16AF98466A8578D6482AE07688E3C995DAA73F080851"
    "1109C91E7809BAC1602CDEA654A035035A13A5";
constexpr const char* kFixedHs =
    "2786DC3385BCEBEAE02E9F730FF720CD2E97A317E0786C3C394DACB960CA40534FE2CFF6271675FCFF83B0E5C4"
    "DB6494E3DC2C4BAB5DDFBF95AFBA4AFE4BF672F42E481F7E23F0F2573F8620D51E5891E461E48106DB89B4BD47"
    "B7D04E92D9EF7FEF1E180CC918461E674C20CE7771B69027DF654392A5B9377F2EB26F29C1AE";
constexpr const char* kFixedFingerprint =
    "fb84e3a1415d7ab111ca73c571f81f5c9e8086cfee815e0bf67e1903e3bc771b";
constexpr const char* kFixedNOnlyFingerprint =
    "9f349cc43a2e1955201ac41e5cf55ef8a5a4c46fd6a384f544a31f177e1dfd29";

void set_bigint(pb::Bigint* out, const BIGNUM* v) {
  out->set_is_neg(BN_is_negative(v) != 0);
  out->set_little_endian_value(bn_to_le(v));
}

// A DataExchangeProtocol holding one PaillierPublicKey, built by hand.
std::string key_message(const BIGNUM* n, const BIGNUM* hs, bool empty_hs = false) {
  pb::PaillierPublicKey key;
  set_bigint(key.mutable_n(), n);
  if (hs != nullptr) set_bigint(key.mutable_hs(), hs);
  if (empty_hs) key.mutable_hs();  // present, but no bytes
  pb::DataExchangeProtocol msg;
  msg.set_scalar_type(20);
  msg.set_scalar_type_name("paillier_public_key");
  *msg.mutable_v_ndarray()->add_items() = key.SerializeAsString();
  return msg.SerializeAsString();
}

// Protobuf wire encoding by hand (independent of the generated code): a length-delimited
// field, and a Bigint {is_neg = 1, little_endian_value = 2}.
std::string ld_field(int number, const std::string& data) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  for (size_t v = data.size();; v >>= 7) {
    if (v < 0x80) {
      out += static_cast<char>(v);
      break;
    }
    out += static_cast<char>((v & 0x7f) | 0x80);
  }
  return out + data;
}
std::string bigint_bytes(const BIGNUM* v) { return ld_field(2, bn_to_le(v)); }

// The interconnection runtime's bare PublicKey {Bigint n = 1; Bigint hs = 2;} (phe.proto), no
// DataExchangeProtocol around it. hs == nullptr: n only.
std::string bare_key(const BIGNUM* n, const BIGNUM* hs) {
  std::string out = ld_field(1, bigint_bytes(n));
  if (hs != nullptr) out += ld_field(2, bigint_bytes(hs));
  return out;
}

std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("he_wire public key round trip keeps n and h_s") {
  const PublicKey& pk = wire_key().public_key();
  std::string bytes = encode_public_key(pk);
  pb::DataExchangeProtocol msg;
  REQUIRE(msg.ParseFromString(bytes));
  CHECK(msg.scalar_type() == 20);
  CHECK(msg.scalar_type_name() == "paillier_public_key");
  CHECK(msg.v_ndarray().shape_size() == 0);
  CHECK(msg.v_ndarray().items_size() == 1);

  DecodedPublicKey decoded = decode_public_key(bytes, kTestBits);
  CHECK_FALSE(decoded.hs_derived);
  CHECK_FALSE(decoded.key.hs_derived());
  CHECK(BN_cmp(decoded.key.n(), pk.n()) == 0);
  CHECK(BN_cmp(decoded.key.hs(), pk.hs()) == 0);
  CHECK(public_key_fingerprint(decoded.key) == public_key_fingerprint(pk));
  CHECK(encode_public_key(decoded.key) == bytes);
  // A key below the floor is refused unless the caller lowers it.
  CHECK(error_of([&] { decode_public_key(bytes); }) ==
        "public key: n has 1024 bits, at least 2048 required");
}

TEST_CASE("he_wire n-only public key derives h_s locally and reports it") {
  const PrivateKey& sk = wire_key();
  const BIGNUM* n = sk.public_key().n();
  for (bool empty_hs : {false, true}) {
    DecodedPublicKey a = decode_public_key(key_message(n, nullptr, empty_hs), kTestBits);
    CHECK(a.hs_derived);
    CHECK(a.key.hs_derived());
    CHECK(validate_public_key(a.key.n(), a.key.hs(), kTestBits).ok());
    // The key holder decrypts what was encrypted under the derived h_s.
    CHECK(bn_to_i64(decrypt(sk, encrypt(a.key, int64_t{-31337})).get()) == -31337);
    // Re-encoding gives the key back as published: n only.
    pb::DataExchangeProtocol msg;
    REQUIRE(msg.ParseFromString(encode_public_key(a.key)));
    pb::PaillierPublicKey key;
    REQUIRE(key.ParseFromString(msg.v_ndarray().items(0)));
    CHECK_FALSE(key.has_hs());
    // Two decodings derive different h_s but agree on the fingerprint (n only).
    DecodedPublicKey b = decode_public_key(key_message(n, nullptr, empty_hs), kTestBits);
    CHECK(BN_cmp(a.key.hs(), b.key.hs()) != 0);
    CHECK(public_key_fingerprint(a.key) == public_key_fingerprint(b.key));
    CHECK(public_key_fingerprint(a.key) != public_key_fingerprint(sk.public_key()));
  }
}

TEST_CASE("he_wire reads a bare public key (phe.proto PublicKey, no envelope)") {
  const PrivateKey& sk = wire_key();
  const PublicKey& pk = sk.public_key();
  const std::string bare = bare_key(pk.n(), pk.hs());
  CHECK(public_key_form(bare) == PublicKeyForm::kBare);
  CHECK(public_key_form(encode_public_key(pk)) == PublicKeyForm::kEnvelope);
  DecodedPublicKey d = decode_public_key(bare, kTestBits);
  CHECK(d.form == PublicKeyForm::kBare);
  CHECK_FALSE(d.hs_derived);
  CHECK(BN_cmp(d.key.n(), pk.n()) == 0);
  CHECK(BN_cmp(d.key.hs(), pk.hs()) == 0);
  CHECK(public_key_fingerprint(d.key) == public_key_fingerprint(pk));
  // Fields in the other order are the same message.
  const std::string reversed =
      ld_field(2, bigint_bytes(pk.hs())) + ld_field(1, bigint_bytes(pk.n()));
  CHECK(public_key_fingerprint(decode_public_key(reversed, kTestBits).key) ==
        public_key_fingerprint(pk));

  // n only: h_s derived, as for the envelope; the key holder decrypts.
  DecodedPublicKey n_only = decode_public_key(bare_key(pk.n(), nullptr), kTestBits);
  CHECK(n_only.form == PublicKeyForm::kBare);
  CHECK(n_only.hs_derived);
  CHECK(bn_to_i64(decrypt(sk, encrypt(n_only.key, int64_t{-4242})).get()) == -4242);
  CHECK(public_key_fingerprint(n_only.key) ==
        public_key_fingerprint(decode_public_key(key_message(pk.n(), nullptr), kTestBits).key));

  // The bare form is validated like the envelope.
  Bn even = bn_dup(pk.n());
  REQUIRE(BN_add_word(even.get(), 1) == 1);
  CHECK(error_of([&] { decode_public_key(bare_key(even.get(), nullptr), kTestBits); }) ==
        "public key: n is even");
  CHECK(error_of([&] { decode_public_key(bare_key(pk.n(), pk.n_squared()), kTestBits); }) ==
        "public key: h_s is out of range (need 1 < h_s < n^2)");
}

TEST_CASE("he_wire public key format errors name both accepted forms") {
  const std::string forms = " (" + std::string(kPublicKeyForms) + ")";
  CHECK(kPublicKeyForms.find("DataExchangeProtocol") != std::string_view::npos);
  CHECK(kPublicKeyForms.find("bare PublicKey {n, hs}") != std::string_view::npos);
  CHECK(error_of([] { decode_public_key("", kTestBits); }) == "he wire: not a public key" + forms);
  CHECK(error_of([] { decode_public_key("\xff\xff\xff", kTestBits); }) ==
        "he wire: not a public key" + forms);
  // An envelope of another scalar type, or with scalar_type 0 (omitted on the wire).
  pb::DataExchangeProtocol msg;
  REQUIRE(msg.ParseFromString(encode_public_key(wire_key().public_key())));
  msg.set_scalar_type(7);
  CHECK(error_of([&] { decode_public_key(msg.SerializeAsString(), kTestBits); }) ==
        "he wire: scalar_type 7, expected 20" + forms);
  msg.set_scalar_type(0);
  CHECK(error_of([&] { decode_public_key(msg.SerializeAsString(), kTestBits); }) ==
        "he wire: scalar_type 0, expected 20" + forms);
  // A bare key without n, or whose n is not a Bigint.
  CHECK(error_of([&] {
          decode_public_key(ld_field(2, bigint_bytes(BN_value_one())), kTestBits);
        }) == "he wire: not a public key" + forms);
  CHECK(error_of([&] { decode_public_key(ld_field(1, "\xff"), kTestBits); }) ==
        "he wire: not a PublicKey message" + forms);
}

TEST_CASE("he_wire fingerprint is stable and matches an independent computation") {
  Bn n = hex(kFixedN), hs = hex(kFixedHs);
  PublicKey pk(n.get(), hs.get(), 512);
  CHECK(public_key_fingerprint(pk) == kFixedFingerprint);
  CHECK(public_key_fingerprint(PublicKey(n.get(), hs.get(), 512)) == kFixedFingerprint);
  CHECK(public_key_fingerprint(decode_public_key(encode_public_key(pk), 512).key) ==
        kFixedFingerprint);
  CHECK(public_key_fingerprint(PublicKey::from_modulus(n.get(), 512)) == kFixedNOnlyFingerprint);
}

TEST_CASE("he_wire ciphertext array round trip with shape") {
  const PrivateKey& sk = wire_key();
  const PublicKey& pk = sk.public_key();
  std::vector<Ciphertext> items;
  for (int64_t v = -3; v < 3; ++v) items.push_back(encrypt(pk, v * 1000));
  const std::vector<int64_t> shape{2, 3};
  std::string bytes = encode_ciphertexts(items, shape);

  pb::DataExchangeProtocol msg;
  REQUIRE(msg.ParseFromString(bytes));
  CHECK(msg.scalar_type() == 20);
  CHECK(msg.scalar_type_name() == "paillier_ciphertext");

  CiphertextArray out = decode_ciphertexts(bytes, pk);
  CHECK(out.shape == shape);
  REQUIRE(out.items.size() == items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    CHECK(out.items[i] == items[i]);
    CHECK(bn_to_i64(decrypt(sk, out.items[i]).get()) == (static_cast<int64_t>(i) - 3) * 1000);
  }

  // A 0-d array holds one item; an empty dimension none.
  CiphertextArray scalar =
      decode_ciphertexts(encode_ciphertexts({items.data(), 1}, std::vector<int64_t>{}), pk);
  CHECK(scalar.shape.empty());
  CHECK(scalar.items.size() == 1);
  CiphertextArray empty =
      decode_ciphertexts(encode_ciphertexts({}, std::vector<int64_t>{4, 0}), pk);
  CHECK(empty.shape == std::vector<int64_t>{4, 0});
  CHECK(empty.items.empty());

  CHECK_THROWS_WITH_AS(encode_ciphertexts(items, std::vector<int64_t>{4}),
                       "he wire: shape [4] does not hold 6 items", std::invalid_argument);
}

TEST_CASE("he_wire rejects a wrong scalar type or name") {
  const PublicKey& pk = wire_key().public_key();
  std::vector<Ciphertext> items{encrypt(pk, int64_t{1})};
  pb::DataExchangeProtocol msg;
  REQUIRE(msg.ParseFromString(encode_ciphertexts(items, std::vector<int64_t>{1})));

  msg.set_scalar_type(7);
  CHECK(error_of([&] { decode_ciphertexts(msg.SerializeAsString(), pk); }) ==
        "he wire: scalar_type 7, expected 20");
  msg.set_scalar_type(20);
  msg.set_scalar_type_name("paillier_public_key");
  CHECK(error_of([&] { decode_ciphertexts(msg.SerializeAsString(), pk); }) ==
        "he wire: scalar_type_name \"paillier_public_key\", expected \"paillier_ciphertext\"");
  // A key is not a ciphertext array and vice versa.
  CHECK(error_of([&] { decode_ciphertexts(encode_public_key(pk), pk); }) ==
        "he wire: scalar_type_name \"paillier_public_key\", expected \"paillier_ciphertext\"");
  CHECK(error_of([&] {
          decode_public_key(encode_ciphertexts(items, std::vector<int64_t>{1}), kTestBits);
        }) ==
        "he wire: scalar_type_name \"paillier_ciphertext\", expected "
        "\"paillier_public_key\" (" +
            std::string(kPublicKeyForms) + ")");
  CHECK(error_of([&] { decode_ciphertexts("\xff\xff\xff", pk); }) ==
        "he wire: not a DataExchangeProtocol message");
}

TEST_CASE("he_wire rejects a shape that does not match the items") {
  const PublicKey& pk = wire_key().public_key();
  std::vector<Ciphertext> items{encrypt(pk, int64_t{1}), encrypt(pk, int64_t{2}),
                                encrypt(pk, int64_t{3})};
  pb::DataExchangeProtocol msg;
  REQUIRE(msg.ParseFromString(encode_ciphertexts(items, std::vector<int64_t>{3})));
  auto with_shape = [&](std::vector<int64_t> shape) {
    msg.mutable_v_ndarray()->clear_shape();
    for (int64_t d : shape) msg.mutable_v_ndarray()->add_shape(d);
    return error_of([&] { decode_ciphertexts(msg.SerializeAsString(), pk); });
  };
  CHECK(with_shape({3}).empty());
  CHECK(with_shape({3, 1}).empty());
  CHECK(with_shape({2, 2}) == "he wire: shape [2,2] has 4 elements but 3 items were sent");
  CHECK(with_shape({}) == "he wire: shape [] has 1 elements but 3 items were sent");
  CHECK(with_shape({-3}) == "he wire: invalid shape [-3]");
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  CHECK(with_shape({big, 4}) ==
        "he wire: invalid shape [" + std::to_string(big) + ",4]");  // overflows int64
}

TEST_CASE("he_wire rejects invalid keys and ciphertexts") {
  const PrivateKey& sk = wire_key();
  const PublicKey& pk = sk.public_key();
  Bn even = bn_dup(pk.n());
  REQUIRE(BN_add_word(even.get(), 1) == 1);
  CHECK(error_of([&] { decode_public_key(key_message(even.get(), pk.hs()), kTestBits); }) ==
        "public key: n is even");
  CHECK(error_of([&] { decode_public_key(key_message(even.get(), nullptr), kTestBits); }) ==
        "public key: n is even");
  Bn neg = bn_dup(pk.n());
  BN_set_negative(neg.get(), 1);
  CHECK(error_of([&] { decode_public_key(key_message(neg.get(), pk.hs()), kTestBits); }) ==
        "he wire: public key n is negative");
  CHECK(error_of([&] { decode_public_key(key_message(pk.n(), pk.n_squared()), kTestBits); }) ==
        "public key: h_s is out of range (need 1 < h_s < n^2)");
  CHECK(error_of([&] { decode_public_key(key_message(pk.n(), sk.p()), kTestBits); }) ==
        "public key: h_s is not coprime to n");
  {
    pb::DataExchangeProtocol msg;
    REQUIRE(msg.ParseFromString(encode_public_key(pk)));
    msg.mutable_v_ndarray()->add_items(msg.v_ndarray().items(0));
    msg.mutable_v_ndarray()->add_shape(2);
    CHECK(error_of([&] { decode_public_key(msg.SerializeAsString(), kTestBits); }) ==
          "he wire: a public key is one item, got 2 (" + std::string(kPublicKeyForms) + ")");
  }

  // Ciphertexts: c >= n^2, c = 0 and negative c are refused with the item's index.
  std::vector<Ciphertext> items{encrypt(pk, int64_t{1}), Ciphertext(bn_dup(pk.n_squared()))};
  std::string bytes = encode_ciphertexts(items, std::vector<int64_t>{2});
  CHECK(error_of([&] { decode_ciphertexts(bytes, pk); }) ==
        "he wire: item 1: paillier: ciphertext out of range (need 0 < c < n^2)");
  pb::DataExchangeProtocol msg;
  REQUIRE(msg.ParseFromString(bytes));
  pb::PaillierCiphertext negative;
  set_bigint(negative.mutable_c(), items[0].get());
  negative.mutable_c()->set_is_neg(true);
  msg.mutable_v_ndarray()->set_items(1, negative.SerializeAsString());
  CHECK(error_of([&] { decode_ciphertexts(msg.SerializeAsString(), pk); }) ==
        "he wire: item 1: paillier: ciphertext out of range (need 0 < c < n^2)");
  msg.mutable_v_ndarray()->set_items(1, pb::PaillierCiphertext().SerializeAsString());
  CHECK(error_of([&] { decode_ciphertexts(msg.SerializeAsString(), pk); }) ==
        "he wire: item 1: paillier: ciphertext out of range (need 0 < c < n^2)");
  msg.mutable_v_ndarray()->set_items(1, "\xff");
  CHECK(error_of([&] { decode_ciphertexts(msg.SerializeAsString(), pk); }) ==
        "he wire: item 1 is not a PaillierCiphertext");
}
