// The peering handshake's texts (docs/peering.md): the invitation an operator of node A
// creates for node B, the proofs of its one-time code, and the canonical texts the weave
// and ack bodies are signed over. Built here only, so the gateway never assembles them.
//
//   invitation = "ptpinv1." + base64url-nopad(JSON {"v":1,"code","inviter","inst","address",
//                "root_fp","for","expire_at"})
//   weave proof = hex HMAC-SHA256(code, "ptp-weave-v1\n" A "\n" B "\n" root_fp(B))
//   ack proof   = hex HMAC-SHA256(code, "ptp-ack-v1\n" A "\n" B "\n" root_fp(A))
//   weave text  = "ptp-weave-v1\n" A "\n" B "\n" address(B) "\n" root_fp(B) "\n" auth_code
//   ack text    = "ptp-ack-v1\n" A "\n" B "\n" address(A) "\n" root_fp(A) "\n" auth_code
// (A the inviter, B the joiner; the HMAC key is the code as its 64-character text; a body's
// signature is its sender's NodeKey::sign of the text, base64.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ptp {

inline constexpr std::string_view kInvitationPrefix = "ptpinv1.";
// An invitation text longer than this is refused before it is decoded.
inline constexpr size_t kMaxInvitationBytes = 4096;

struct Invitation {
  int version = 1;           // "v"
  std::string code;          // "code": 32 random bytes, 64 lowercase hex digits
  std::string inviter;       // "inviter": node A
  std::string inviter_inst;  // "inst": A's institution
  std::string address;       // "address": A's host:port
  std::string root_fp;       // "root_fp": A's root fingerprint, 64 lowercase hex digits
  std::string joiner;        // "for": node B
  int64_t expire_at = 0;     // "expire_at": unix seconds

  bool operator==(const Invitation&) const = default;
};

// A fresh one-time code (32 bytes from the CSPRNG, hex).
std::string new_invitation_code();

// "ptpinv1." + base64url-nopad of the JSON.
std::string encode_invitation(const Invitation& inv);
// The invitation of such a text (surrounding whitespace ignored): at most
// kMaxInvitationBytes, JSON no deeper than one object, every field present with its type,
// v == 1, node and institution ids valid ids, address host:port, code and root_fp 64
// lowercase hex digits, expire_at >= 0. Expiry is not checked here. Unknown fields are
// ignored.
std::optional<Invitation> decode_invitation(std::string_view text, std::string& error);

// The proofs of the code: lowercase hex HMAC-SHA256, 64 digits.
std::string weave_proof(std::string_view code, std::string_view inviter, std::string_view joiner,
                        std::string_view joiner_root_fp);
std::string ack_proof(std::string_view code, std::string_view inviter, std::string_view joiner,
                      std::string_view inviter_root_fp);
// Compares a received proof with the expected one in constant time.
bool proof_matches(std::string_view expected, std::string_view received);

// The texts the weave body (signed by B) and the ack body (signed by A) carry a signature
// over.
std::string weave_signed_text(std::string_view inviter, std::string_view joiner,
                              std::string_view joiner_address, std::string_view joiner_root_fp,
                              std::string_view auth_code);
std::string ack_signed_text(std::string_view inviter, std::string_view joiner,
                            std::string_view inviter_address, std::string_view inviter_root_fp,
                            std::string_view auth_code);

}  // namespace ptp
