#include "common/node_uri.h"

#include <memory>

#include <openssl/x509v3.h>

namespace ptp {

std::string node_uri(std::string_view node_id) {
  std::string s(kNodeUriPrefix);
  s += node_id;
  return s;
}

std::optional<std::string> node_id_from_uri(std::string_view uri) {
  if (uri.size() <= kNodeUriPrefix.size() || uri.substr(0, kNodeUriPrefix.size()) != kNodeUriPrefix)
    return std::nullopt;
  return std::string(uri.substr(kNodeUriPrefix.size()));
}

std::optional<std::string> certificate_node_id(X509* cert) {
  if (!cert) return std::nullopt;
  auto free_names = [](GENERAL_NAMES* n) { GENERAL_NAMES_free(n); };
  std::unique_ptr<GENERAL_NAMES, decltype(free_names)> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)),
      free_names);
  if (!names) return std::nullopt;
  std::optional<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
    std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    if (auto id = node_id_from_uri(uri)) {
      if (found) return std::nullopt;
      found = std::move(id);
    }
  }
  return found;
}

}  // namespace ptp
