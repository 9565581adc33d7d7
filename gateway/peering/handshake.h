// The peering handshake's bodies and checks (docs/peering.md "Wire format"): the Route
// record of net/weave and net/ack (the reference implementation's field names; unknown
// fields ignored), the proof of the invitation code, the signed text, and the checks at
// the receiving node in their order: size, depth, no private key, the invitation (or the
// pending join), the proof, the certificates and the signature, no shadowing of a
// configured peer. Pure apart from the store it is given. The proofs and the signed
// texts are trust/invitation.h's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "codecs/status.h"
#include "gateway/config/config.h"
#include "gateway/peering/peer_store.h"

namespace ptp {

// The reference implementation's Route record, the fields the handshake uses.
struct RouteBody {
  std::string node_id;
  std::string inst_id;
  std::string name;
  std::string inst_name;
  std::string address;
  std::string host_root;  // the sender's node root certificate (PEM)
  std::string host_crt;   // the sender's TLS chain (PEM)
  std::string auth_code;  // the proof of the invitation code
  std::string signature;  // base64 of the sender's node-key signature
  std::string version = "1";
  int64_t expire_at = 0;
  int64_t status = 0;
};

// What the handshake needs of certificates and keys (trust/): this node's identity and the
// checks of another node's. Built over trust/ by make_handshake_crypto (crypto.h).
struct HandshakeCrypto {
  std::string node_id;
  std::string address;        // host:port this node announces (identity.json)
  std::string root_pem;       // this node's root certificate
  std::string root_fp;        // its fingerprint
  std::string tls_chain_pem;  // this node's TLS chain (leaf, then root)
  // Lowercase hex SHA-256 of a PEM certificate's DER; empty when it does not parse.
  std::function<std::string(std::string_view pem)> fingerprint;
  // Ok when `root_pem` is a CA certificate naming `node_id` and the first certificate of
  // `chain_pem` is issued by it and names `node_id`; else the reason.
  std::function<Status(std::string_view root_pem, std::string_view chain_pem,
                       std::string_view node_id)>
      check_certificates;
  // True when `signature` (raw bytes) over `data` verifies with the key of `root_pem`.
  std::function<bool(std::string_view root_pem, std::string_view data, std::string_view signature)>
      verify;
  // This node's node-key signature of `data` (raw bytes; empty on failure).
  std::function<std::string(std::string_view data)> sign;
};

// Parses a weave or ack body: at most kPeeringBodyLimit bytes, JSON nested at most 8
// deep, an object, no private key (host_key, guest_key), a node_id. E0000000400 (or 413)
// with the reason otherwise.
Status parse_route_body(std::string_view body, RouteBody& out);
// The JSON of a Route record (the fields of RouteBody).
std::string route_body_json(const RouteBody& r);

// The body B sends to A to weave with invitation `code`, signed by B.
RouteBody make_weave_body(const Config& self, const HandshakeCrypto& crypto,
                          std::string_view inviter, std::string_view code, int64_t now);
// The body A sends to B to ack, signed by A; expire_at is the peering's expiry.
RouteBody make_ack_body(const Config& self, const HandshakeCrypto& crypto, std::string_view joiner,
                        std::string_view code, int64_t expires_at);

// The result of a weave at the inviting node.
struct WeaveResult {
  Status status;
  std::string answer;  // the JSON answer when ok
  PeerRecord record;   // the joiner, as recorded
  std::string code;    // the invitation's code (for the ack)
};

// A's side of net/weave: the checks of docs/peering.md in order; on success the
// invitation is marked used and B recorded (active, or pending without auto_approve).
// `cfg` is the file's configuration (its peers are the ones B may not shadow).
WeaveResult accept_weave(const Config& cfg, PeerStore& store, const HandshakeCrypto& crypto,
                         std::string_view body, int64_t now);

// B's side of net/ack: against the pending join of A (or A's record, for a repeated ack).
// On success A is recorded active. The JSON answer goes to `answer`.
Status accept_ack(const Config& cfg, PeerStore& store, const HandshakeCrypto& crypto,
                  std::string_view body, int64_t now, std::string& answer);

// {"code":"E0000000000","message":"ok", ...extra fields}: `extra` is a JSON object text or empty.
std::string ok_answer_json(std::string_view extra_fields = {});

}  // namespace ptp
