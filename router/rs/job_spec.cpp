#include "router/rs/job_spec.h"

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "codecs/base64.h"
#include "codecs/json_depth.h"
#include "codecs/validate.h"

namespace ptp::rs {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxIdLength = 128;

[[noreturn]] void spec_fail(const std::string& what) {
  throw std::invalid_argument("job spec: " + what);
}

[[noreturn]] void chunk_fail(const std::string& what) {
  throw std::invalid_argument("chunk descriptor: " + what);
}

bool valid_id(std::string_view id) { return id.size() <= kMaxIdLength && is_valid_id(id); }

const Json* field(const Json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) spec_fail(std::string("missing field ") + name);
    return nullptr;
  }
  return &*it;
}

std::string string_field(const Json& j, const char* name, bool required) {
  const Json* v = field(j, name, required);
  if (!v) return {};
  if (!v->is_string()) spec_fail(std::string("field ") + name + " must be a string");
  return v->get<std::string>();
}

// An integer in [min, max]; JSON numbers only (no strings, no fractions).
uint64_t int_field(const Json& j, const char* name, bool required, uint64_t def, uint64_t min,
                   uint64_t max) {
  const Json* v = field(j, name, required);
  if (!v) return def;
  if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<int64_t>() < 0))
    spec_fail(std::string("field ") + name + " must be an integer from " + std::to_string(min) +
              " to " + std::to_string(max));
  const uint64_t x = v->get<uint64_t>();
  if (x < min || x > max)
    spec_fail(std::string("field ") + name + " is " + std::to_string(x) + ", expected " +
              std::to_string(min) + " to " + std::to_string(max));
  return x;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string_view combine_at_name(CombineAt c) { return c == CombineAt::kRc ? "rc" : "rs_a"; }

std::optional<CombineAt> parse_combine_at(std::string_view s) {
  if (s == "rc") return CombineAt::kRc;
  if (s == "rs_a") return CombineAt::kRsA;
  return std::nullopt;
}

std::string encode_job_spec(const JobSpec& spec) {
  Json j;
  j["job_id"] = spec.job_id;
  j["ring_bits"] = spec.ring_bits;
  j["elements"] = spec.elements;
  j["parties"] = spec.parties;
  j["frac_bits"] = spec.frac_bits;
  j["party_nodes"] = spec.party_nodes;
  j["he_node"] = spec.he_node;
  j["public_key"] = base64_encode(spec.public_key);
  if (!spec.fingerprint.empty()) j["fingerprint"] = spec.fingerprint;
  j["output_mode"] = spec.output_mode;
  if (spec.combine_at) j["combine_at"] = std::string(combine_at_name(*spec.combine_at));
  j["chunk_elements"] = spec.chunk_elements;
  return j.dump();
}

JobSpec parse_job_spec(std::string_view json) {
  if (!json_depth_within(json))
    spec_fail("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) spec_fail("not valid JSON");
  if (!j.is_object()) spec_fail("expected a JSON object");
  static const char* const kKnown[] = {
      "job_id",  "ring_bits",  "elements",    "parties",     "party_nodes", "frac_bits",
      "he_node", "public_key", "fingerprint", "output_mode", "combine_at",  "chunk_elements"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) spec_fail("unknown field " + it.key().substr(0, 64));
  }
  JobSpec s;
  s.job_id = string_field(j, "job_id", true);
  if (!valid_id(s.job_id))
    spec_fail("job_id must be 1 to 128 characters of A-Za-z0-9._:- (it is the session id)");
  s.ring_bits = static_cast<int>(int_field(j, "ring_bits", true, 0, 64, 128));
  if (s.ring_bits != 64 && s.ring_bits != 128)
    spec_fail("ring_bits is " + std::to_string(s.ring_bits) + ", expected 64 or 128");
  s.elements = int_field(j, "elements", true, 0, 1, kMaxElements);
  s.parties = static_cast<int>(int_field(j, "parties", true, 0, 2, kMaxParties));
  const Json* nodes = field(j, "party_nodes", true);
  if (!nodes->is_array() || nodes->size() != static_cast<size_t>(s.parties))
    spec_fail("party_nodes must be a list of " + std::to_string(s.parties) +
              " node ids, the node of each party 1.." + std::to_string(s.parties));
  for (const Json& n : *nodes) {
    if (!n.is_string() || !valid_id(n.get_ref<const std::string&>()))
      spec_fail("party_nodes[" + std::to_string(s.party_nodes.size()) + "] is not a valid node id");
    s.party_nodes.push_back(n.get<std::string>());
  }
  s.frac_bits = static_cast<int>(int_field(j, "frac_bits", false, 0, 0, 127));
  if (s.frac_bits >= s.ring_bits)
    spec_fail("frac_bits " + std::to_string(s.frac_bits) + " must be below ring_bits");
  s.he_node = string_field(j, "he_node", true);
  if (!valid_id(s.he_node)) spec_fail("he_node is not a valid node id");
  std::string pk = string_field(j, "public_key", true);
  auto raw = base64_decode(pk);
  if (!raw || raw->empty()) spec_fail("public_key is not base64 of an encoded public key");
  s.public_key = std::move(*raw);
  s.fingerprint = string_field(j, "fingerprint", false);
  if (!s.fingerprint.empty() &&
      (s.fingerprint.size() != 64 ||
       s.fingerprint.find_first_not_of("0123456789abcdef") != std::string::npos))
    spec_fail("fingerprint must be 64 lowercase hex digits (SHA-256)");
  if (const Json* m = field(j, "output_mode", false)) {
    if (!m->is_string() || m->get<std::string>() != kOutputMode)
      spec_fail("output_mode must be \"" + std::string(kOutputMode) + "\"");
  }
  if (const Json* c = field(j, "combine_at", false)) {
    auto v = c->is_string() ? parse_combine_at(c->get<std::string>()) : std::nullopt;
    if (!v) spec_fail("combine_at must be \"rc\" or \"rs_a\"");
    s.combine_at = v;
  }
  s.chunk_elements =
      int_field(j, "chunk_elements", false, kDefaultChunkElements, 1, kMaxChunkElements);
  return s;
}

std::string share_topic(int party) {
  return std::string(kShareTopicPrefix) + std::to_string(party);
}

std::optional<int> party_of_topic(std::string_view topic) {
  if (!topic.starts_with(kShareTopicPrefix)) return std::nullopt;
  std::string_view digits = topic.substr(kShareTopicPrefix.size());
  uint64_t v = 0;
  if (digits.size() > 6 || !parse_u64(digits, v) || v == 0) return std::nullopt;
  return static_cast<int>(v);
}

std::string encode_chunk_info(const ChunkInfo& c) {
  std::string s = "chunk=" + std::to_string(c.chunk) + " chunks=" + std::to_string(c.chunks) +
                  " elements=" + std::to_string(c.elements) + " offset=" + std::to_string(c.offset);
  if (c.ring_bits) s += " ring=" + std::to_string(c.ring_bits);
  if (!c.key.empty()) s += " key=" + c.key;
  return s;
}

ChunkInfo parse_chunk_info(std::string_view text) {
  std::map<std::string, std::string, std::less<>> kv;
  while (!text.empty()) {
    size_t sp = text.find(' ');
    std::string_view item = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) chunk_fail("expected key=value items");
    std::string key(item.substr(0, eq));
    if (!kv.emplace(key, std::string(item.substr(eq + 1))).second)
      chunk_fail("repeated key " + key.substr(0, 32));
  }
  ChunkInfo c;
  auto number = [&](const char* key, uint64_t& out) {
    auto it = kv.find(key);
    if (it == kv.end()) chunk_fail(std::string("missing ") + key);
    if (!parse_u64(it->second, out))
      chunk_fail(std::string(key) + " is not a decimal number: " + it->second.substr(0, 32));
    kv.erase(it);
  };
  number("chunk", c.chunk);
  number("chunks", c.chunks);
  number("elements", c.elements);
  number("offset", c.offset);
  if (kv.count("ring")) {
    uint64_t r = 0;
    number("ring", r);
    if (r != 64 && r != 128) chunk_fail("ring must be 64 or 128");
    c.ring_bits = static_cast<int>(r);
  }
  if (auto it = kv.find("key"); it != kv.end()) {
    c.key = it->second;
    kv.erase(it);
  }
  if (!kv.empty()) chunk_fail("unknown key " + kv.begin()->first.substr(0, 32));
  if (c.chunks == 0 || c.chunk >= c.chunks)
    chunk_fail("chunk " + std::to_string(c.chunk) + " of " + std::to_string(c.chunks));
  if (c.elements == 0 || c.elements > kMaxElements)
    chunk_fail("elements must be 1 to " + std::to_string(kMaxElements));
  if (c.offset >= c.elements)
    chunk_fail("offset " + std::to_string(c.offset) + " is not below elements " +
               std::to_string(c.elements));
  return c;
}

uint64_t chunk_count(uint64_t elements, uint64_t chunk_elements) {
  if (chunk_elements == 0) return 1;
  return elements == 0 ? 1 : (elements + chunk_elements - 1) / chunk_elements;
}

std::string result_message_id(std::string_view job, char tag, uint64_t chunk) {
  return std::string(job) + "." + tag + "." + std::to_string(chunk);
}

}  // namespace ptp::rs
