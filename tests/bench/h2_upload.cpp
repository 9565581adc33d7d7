// A lean HTTP/2 (h2c, prior knowledge) upload client for the streaming benchmark
// (tests/bench/gateway_vs_nghttpx.py): one stream, a body of N zero bytes sent straight
// from a static buffer (no pipe, no copy into nghttp2: NGHTTP2_DATA_FLAG_NO_COPY and
// writev of frame header + payload), frames as large as the peer allows, the response
// body counted and dropped. curl reading a pipe cost more CPU than the hops it measured,
// which capped what a 2-core machine could show.
//
//   ptp-bench-h2_upload --host 127.0.0.1 --port 27304 --path /v1/interconn/chan/transport
//                       --bytes 268435456 [-H "name: value"]...
// prints "<http status> <bytes sent> <bytes received> <seconds>" (the fields of curl -w).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/version.h"

namespace {

constexpr size_t kChunk = 1 << 20;  // the largest payload handed out at once
constexpr int32_t kWindow = 1 << 30;

struct Upload {
  int fd = -1;
  uint64_t remaining = 0;
  uint64_t sent = 0;
  uint64_t received = 0;
  int status = 0;
  bool closed = false;
  uint32_t close_error = 0;
  std::vector<char> zeros = std::vector<char>(kChunk, 0);
};

bool write_all(int fd, iovec* iov, int n) {
  while (n > 0) {
    ssize_t w = ::writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

ssize_t on_send(nghttp2_session*, const uint8_t* data, size_t len, int, void* u) {
  iovec iov{const_cast<uint8_t*>(data), len};
  if (!write_all(static_cast<Upload*>(u)->fd, &iov, 1)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return static_cast<ssize_t>(len);
}

int on_send_data(nghttp2_session*, nghttp2_frame*, const uint8_t* framehd, size_t length,
                 nghttp2_data_source*, void* u) {
  auto* up = static_cast<Upload*>(u);
  iovec iov[2] = {{const_cast<uint8_t*>(framehd), 9}, {up->zeros.data(), length}};
  if (!write_all(up->fd, iov, 2)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  up->sent += length;
  return 0;
}

ssize_t read_body(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                  nghttp2_data_source*, void* u) {
  auto* up = static_cast<Upload*>(u);
  size_t n = static_cast<size_t>(std::min<uint64_t>({length, up->remaining, kChunk}));
  up->remaining -= n;
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (up->remaining == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

ssize_t max_payload(nghttp2_session*, uint8_t, int32_t, int32_t conn_window, int32_t stream_window,
                    uint32_t max_frame, void*) {
  return std::min<ssize_t>({conn_window, stream_window, static_cast<ssize_t>(max_frame)});
}

int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* u) {
  if (namelen == 7 && std::memcmp(name, ":status", 7) == 0)
    static_cast<Upload*>(u)->status =
        std::atoi(std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
  return 0;
}

int on_data(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t len, void* u) {
  static_cast<Upload*>(u)->received += len;
  return 0;
}

int on_close(nghttp2_session*, int32_t, uint32_t error_code, void* u) {
  auto* up = static_cast<Upload*>(u);
  up->closed = true;
  up->close_error = error_code;
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: ptp-bench-h2_upload --host H --port P --path PATH --bytes N "
               "[-H 'name: value']...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-h2_upload")) return 0;
  std::string host = "127.0.0.1", path = "/";
  int port = 0;
  uint64_t bytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--host") {
      host = v;
    } else if (a == "--port") {
      port = std::atoi(v.c_str());
    } else if (a == "--path") {
      path = v;
    } else if (a == "--bytes") {
      bytes = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "-H") {
      auto colon = v.find(':');
      if (colon == std::string::npos) return usage();
      std::string name = v.substr(0, colon), value = v.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      headers.emplace_back(name, value);
    } else {
      return usage();
    }
  }
  if (port <= 0) return usage();

  Upload up;
  up.remaining = bytes;
  up.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (up.fd < 0 || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(up.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    return 1;
  }
  int one = 1;
  ::setsockopt(up.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, on_send);
  nghttp2_session_callbacks_set_send_data_callback(cbs, on_send_data);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cbs, max_payload);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  nghttp2_session* raw = nullptr;
  nghttp2_session_client_new(&raw, cbs, &up);
  nghttp2_session_callbacks_del(cbs);
  std::unique_ptr<nghttp2_session, decltype(&nghttp2_session_del)> session(raw,
                                                                           nghttp2_session_del);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindow},
                                 {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1 << 20}};
  nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, iv, 2);
  nghttp2_session_set_local_window_size(raw, NGHTTP2_FLAG_NONE, 0, kWindow);

  std::string authority = host + ":" + std::to_string(port);
  std::vector<nghttp2_nv> nv;
  auto add = [&nv](const std::string& k, const std::string& v) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(), v.size(),
                  NGHTTP2_NV_FLAG_NONE});
  };
  const std::string m = ":method", post = "POST", s = ":scheme", http = "http", a = ":authority",
                    p = ":path";
  add(m, post);
  add(s, http);
  add(a, authority);
  add(p, path);
  for (const auto& [k, v] : headers) add(k, v);
  nghttp2_data_provider prd{};
  prd.read_callback = read_body;
  const auto start = std::chrono::steady_clock::now();
  if (nghttp2_submit_request(raw, nullptr, nv.data(), nv.size(), &prd, nullptr) < 0) {
    std::fprintf(stderr, "cannot submit the request\n");
    return 1;
  }

  std::vector<uint8_t> buf(1 << 20);
  while (!up.closed) {
    if (nghttp2_session_send(raw) != 0) {
      std::fprintf(stderr, "send failed\n");
      return 1;
    }
    if (!nghttp2_session_want_read(raw) && !nghttp2_session_want_write(raw)) break;
    pollfd pfd{up.fd, POLLIN, 0};
    // Blocks only while nghttp2 has nothing it may send (window exhausted or body done).
    if (::poll(&pfd, 1, nghttp2_session_want_write(raw) ? 0 : 60000) < 0 && errno != EINTR) break;
    if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = ::recv(up.fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    if (nghttp2_session_mem_recv(raw, buf.data(), static_cast<size_t>(n)) < 0) {
      std::fprintf(stderr, "protocol error from the server\n");
      return 1;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(up.fd);
  std::printf("%d %llu %llu %.6f\n", up.status, static_cast<unsigned long long>(up.sent),
              static_cast<unsigned long long>(up.received), secs);
  return up.closed && up.close_error == 0 && up.status >= 200 && up.status < 300 ? 0 : 1;
}
