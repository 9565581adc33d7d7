#include "router/rc/key_files.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "router/he/bignum.h"

namespace ptp::rc {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_value(std::string& out, const BIGNUM* v) {
  std::string le = he::bn_to_le(v);
  put_u32(out, static_cast<uint32_t>(le.size()));
  out += le;
  OPENSSL_cleanse(le.data(), le.size());
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw std::runtime_error("error while reading " + path);
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

void write_secret_key(const std::string& path, const he::PrivateKey& sk) {
  std::string out(kSecretKeyMagic, 8);
  put_value(out, sk.p());
  put_value(out, sk.q());
  put_value(out, sk.public_key().hs());
  // A key file left from an earlier run keeps its mode; make sure it is private.
  ::unlink(path.c_str());
  write_file(path, out, 0600);
  OPENSSL_cleanse(out.data(), out.size());
}

he::PrivateKey read_secret_key(const std::string& path, int min_bits) {
  std::string data = read_file(path);
  struct Wipe {
    std::string& s;
    ~Wipe() { OPENSSL_cleanse(s.data(), s.size()); }
  } wipe{data};
  if (data.size() < 8 || data.compare(0, 8, kSecretKeyMagic, 8) != 0)
    throw std::runtime_error(path + " is not a ptp-rc secret key file (no PTPRCSK1 header)");
  size_t off = 8;
  auto next = [&](const char* what) {
    if (data.size() - off < 4) throw std::runtime_error(path + ": truncated before " + what);
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i)
      len |= static_cast<uint32_t>(static_cast<uint8_t>(data[off + i])) << (8 * i);
    off += 4;
    if (data.size() - off < len) throw std::runtime_error(path + ": truncated " + what);
    he::SecretBn v(BN_secure_new());
    he::bn_check(v != nullptr, "BN_secure_new");
    BN_set_flags(v.get(), BN_FLG_CONSTTIME);
    he::bn_check(BN_lebin2bn(reinterpret_cast<const unsigned char*>(data.data() + off),
                             static_cast<int>(len), v.get()) != nullptr,
                 "BN_lebin2bn");
    off += len;
    return v;
  };
  he::SecretBn p = next("p"), q = next("q"), hs = next("h_s");
  if (off != data.size()) throw std::runtime_error(path + ": trailing bytes after the key");
  return he::PrivateKey(p.get(), q.get(), hs.get(), min_bits);
}

std::string read_node_key(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read key file " + path + ": " + std::strerror(errno));
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) throw std::runtime_error("key file " + path + " has an empty first line");
  return key;
}

}  // namespace ptp::rc
