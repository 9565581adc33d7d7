#include "gateway/upstream/http1_conn_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace ptp::http1 {

void Conn::close() {
  boost::system::error_code ignored;
  lowest().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  lowest().close(ignored);
}

bool Conn::looks_alive(bool recently_used) {
  if (buf.size() != 0 || !lowest().is_open()) return false;
  if (recently_used) return true;
  char c;
  ssize_t n = ::recv(lowest().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;
  if (n > 0) return tls.has_value();
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

void ConnPool::drop_expired(Host& h, Clock::time_point now) {
  while (!h.idle.empty() && now - h.idle.front()->idle_since > max_idle_time_) {
    h.idle.front()->close();
    h.idle.pop_front();
  }
}

const Endpoint& ConnPool::HostRef::endpoint() const { return h_->endpoint; }

ConnPool::HostRef ConnPool::host(std::string_view host, uint16_t port, bool tls,
                                 std::string_view server_name) {
  if (tls && server_name.empty()) server_name = host;
  const UpstreamKeyView k{host, port, tls, tls ? server_name : std::string_view()};
  auto it = hosts_.find(k);
  if (it == hosts_.end()) {
    it = hosts_.emplace(UpstreamKey(k), Host{}).first;
    Endpoint& e = it->second.endpoint;
    e.host = host;
    e.port = port;
    e.tls = tls;
    e.server_name = k.server_name;
    e.authority = std::string(host) + ":" + std::to_string(port);
  }
  return HostRef(&it->second);
}

bool ConnPool::acquire(HostRef ref, size_t limit, ConnPtr& reuse, std::weak_ptr<ConnWaiter> w) {
  Host& h = *ref.h_;
  h.limit = limit;
  const auto now = Clock::now();
  drop_expired(h, now);
  while (!h.idle.empty()) {
    ConnPtr c = std::move(h.idle.back());  // most recently used first: likeliest alive
    h.idle.pop_back();
    if (c->looks_alive(now - c->idle_since < kRecentlyUsed)) {
      ++h.busy;
      reuse = std::move(c);
      return true;
    }
    c->close();
  }
  if (h.busy < h.limit && h.waiters.empty()) {
    ++h.busy;
    reuse = nullptr;
    return true;
  }
  h.waiters.push_back(std::move(w));
  // Slots may be free with requests queued (the limit was raised): hand them out.
  while (h.busy < h.limit && !h.waiters.empty()) {
    auto next = h.waiters.front().lock();
    h.waiters.pop_front();
    if (!next) continue;
    ++h.busy;
    if (!next->grant(nullptr)) --h.busy;
  }
  return false;
}

void ConnPool::release(HostRef ref, ConnPtr c) {
  Host& h = *ref.h_;
  if (h.busy > 0) --h.busy;
  if (c && (closed_ || c->buf.size() != 0)) {
    c->close();
    c = nullptr;
  }
  while (!h.waiters.empty() && (c || h.busy < h.limit)) {
    auto next = h.waiters.front().lock();
    h.waiters.pop_front();
    if (!next) continue;
    ++h.busy;
    // The waiter takes the connection (or the free slot) on this turn; a granted waiter
    // may finish at once and release again (re-entering here), which is fine: the queue
    // entry is already gone.
    if (next->grant(c)) return;
    --h.busy;
  }
  if (!c) return;
  if (h.busy + h.idle.size() >= h.limit) return c->close();  // the limit was lowered
  c->idle_since = Clock::now();
  h.idle.push_back(std::move(c));
}

void ConnPool::close_all() {
  closed_ = true;
  for (auto& [key, h] : hosts_) {
    for (auto& c : h.idle) c->close();
    h.idle.clear();
  }
}

size_t ConnPool::idle() const {
  size_t n = 0;
  for (const auto& [key, h] : hosts_) n += h.idle.size();
  return n;
}

}  // namespace ptp::http1
