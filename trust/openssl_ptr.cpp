#include "trust/openssl_ptr.h"

#include <openssl/err.h>

namespace ptp::trust {

std::string openssl_error_text() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "no OpenSSL error reported";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

}  // namespace ptp::trust
