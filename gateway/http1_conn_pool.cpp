#include "gateway/http1_conn_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace ptp::http1 {

void Conn::close() {
  boost::system::error_code ignored;
  lowest().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  lowest().close(ignored);
}

bool Conn::looks_alive() {
  if (buf.size() != 0 || !lowest().is_open()) return false;
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

bool ConnPool::acquire(const std::string& key, size_t limit, ConnPtr& reuse,
                       std::weak_ptr<ConnWaiter> w) {
  Host& h = hosts_[key];
  h.limit = limit;
  drop_expired(h, Clock::now());
  while (!h.idle.empty()) {
    ConnPtr c = std::move(h.idle.back());  // most recently used first: likeliest alive
    h.idle.pop_back();
    if (c->looks_alive()) {
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

void ConnPool::release(const std::string& key, ConnPtr c) {
  Host& h = hosts_[key];
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
