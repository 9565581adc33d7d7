// Files of the router client: Paillier keys and plain byte files.
//
// Public key: the interconnection wire format (he_wire.h encode_public_key), as HE platforms
// publish it.
//
// Secret key — FOR TESTS AND DEMOS ONLY (a real HE platform keeps its key in its own key
// store and decrypts there): the 8 bytes "PTPRCSK1", then p, q and h_s, each as a 4-byte
// little-endian length followed by the value's little-endian magnitude. Written with mode
// 0600; nothing protects it beyond the file permissions.
#pragma once

#include <string>

#include "router/he/paillier_keys.h"

namespace ptp::rc {

inline constexpr char kSecretKeyMagic[] = "PTPRCSK1";

// The whole file; throws std::runtime_error naming the file.
std::string read_file(const std::string& path);
// Replaces the file (mode `mode` for a new file); throws std::runtime_error.
void write_file(const std::string& path, const std::string& bytes, unsigned mode = 0644);

void write_secret_key(const std::string& path, const he::PrivateKey& sk);
// Checks the format and the key (PrivateKey's checks). Throws std::runtime_error /
// std::invalid_argument.
he::PrivateKey read_secret_key(const std::string& path, int min_bits = he::kMinModulusBits);

// The node key for tokens: the first line of the file (like ptp-gateway --mint-token).
std::string read_node_key(const std::string& path);

}  // namespace ptp::rc
