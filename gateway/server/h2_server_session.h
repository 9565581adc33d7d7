// Server side of an HTTP/2 connection: plain HTTP/2 requests to /v1/interconn/chan/*
// and gRPC calls to the PTP services, decoded into Requests for the Dispatcher.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "codecs/grpc_frame.h"
#include "gateway/exchange/body_budget.h"
#include "gateway/exchange/exchange.h"
#include "gateway/http/h2_connection.h"
#include "gateway/server/session_registry.h"

namespace ptp {

struct H2ServerSettings {
  uint64_t max_body_bytes = 64ull << 20;
  uint64_t max_header_bytes = 64 << 10;
  uint32_t max_concurrent_streams = 100;
  std::string node_id;  // names this hop in errors
  // Unary request bodies held while they arrive, on this connection and in the process
  // (null: no process-wide budget).
  uint64_t buffered_body_bytes_per_connection = 128ull << 20;
  std::shared_ptr<BodyBudget> body_budget;
  GrpcErrors grpc_errors = GrpcErrors::kMessage;  // unless the dispatcher says otherwise
  std::string hop_node_id;  // the connection's hop identity (gateway/server/client_roots.h)
  // The HPACK table a peer gateway (hop_node_id set) may use, each way: kPeerHeaderTableBytes
  // where this gateway checks batch statements (evidence on), else the protocol's 4096 bytes.
  uint32_t peer_header_table_bytes = 4096;
};

class H2ServerSession final : public H2Connection, public DrainableSession {
 public:
  static std::shared_ptr<H2ServerSession> start(std::unique_ptr<ByteStream> io,
                                                std::string_view already_read,
                                                Dispatcher& dispatcher, H2ServerSettings settings,
                                                std::string remote);
  struct Stream;  // one request/response exchange

  // Shutdown: GOAWAY naming the last stream taken; those finish, then the connection closes.
  void drain_gracefully() override;

  // nghttp2 callbacks (public so the C trampolines can reach them).
  int on_begin_headers(int32_t id);
  int on_header(int32_t id, std::string_view name, std::string_view value);
  int on_trailer(int32_t id, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame* frame);
  int on_frame_send(const nghttp2_frame* frame);
  int on_data(int32_t id, const uint8_t* data, size_t len);
  int on_stream_close(int32_t id, uint32_t error_code);
  ssize_t read_body(int32_t id, uint8_t* buf, size_t len, uint32_t* flags);

  H2ServerSession(std::unique_ptr<ByteStream> io, Dispatcher& d, H2ServerSettings s,
                  std::string remote);
  ~H2ServerSession() override;

 protected:
  void on_connection_closed(const std::string& why) override;
  // Watchdog (H2Connection::watch): see h2_server_session.cpp, "Stalled streams".
  bool has_open_streams() const override { return !streams_.empty(); }
  void check_streams(uint32_t now, uint32_t stall_ticks) override;

 private:
  void init_session();
  void request_complete_headers(Stream& s);
  // Refuses on the head what must not cost a body: Ok when the body may be read.
  Status check_head(Stream& s, int& http_status);
  void on_unary_data(Stream& s, const uint8_t* data, size_t len);
  uint64_t body_limit(const Stream& s) const;
  void dispatch(Stream& s);
  Responder responder(int32_t id, int http_status = 0);
  void respond(int32_t id, Response&& r);
  // Answers st (through the dispatcher's reject) and discards the rest of the body; once
  // the answer is out, the stream is reset if the client could not finish sending it.
  void refuse(Stream& s, Status st, int http_status = 0);
  void reset_if_stuck(Stream& s);
  // How a closing stream's streamed answer ended for its client (Ok: all of it went out).
  Status answer_end(const Stream& s, uint32_t error_code) const;
  // Submits r's headers and body; the stream keeps only what it needs later.
  void submit_response(Stream& s, Response& r);
  void start_stream_pump(Stream& s, Response& r);
  void submit_grpc_trailers(Stream& s, const Status& st);
  Stream* find(int32_t id);

  Dispatcher& dispatcher_;
  H2ServerSettings settings_;
  std::string remote_;
  ConnectionBodyBudget body_budget_;  // before streams_: their charges point into it
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  Stream* last_ = nullptr;  // the stream find() returned last (cleared when it closes)
  bool draining_ = false;
};

}  // namespace ptp
