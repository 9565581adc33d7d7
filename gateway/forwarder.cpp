#include "gateway/forwarder.h"

#include <boost/asio/steady_timer.hpp>

#include "codecs/grpc_frame.h"
#include "codecs/header_codec.h"
#include "codecs/proto_codec.h"
#include "gateway/grpc_messages.h"
#include "gateway/grpc_paths.h"
#include "gateway/http1_client.h"
#include "gateway/http_mapping.h"
#include "gateway/upstream_pool.h"

namespace ptp {
namespace {

bool is_relayed_header(std::string_view k) {
  // The service's content-type travels back (a gRPC hop's own content-type does not).
  return !(k.starts_with(':') || k == "content-length" || k.starts_with("grpc-") ||
           k == "x-ptp-code" || k == "x-ptp-message" || k == kPtpHopHeader || k == "date" ||
           k == "server" || k == "connection" || k == "keep-alive" || k == "transfer-encoding" ||
           k == "te" || k == "via" || k == "x-ptp-trace-id" || k == "x-ptp-session-id");
}

HeaderList relayed(HeaderList in) {
  HeaderList out;
  out.reserve(in.size());
  for (auto& [k, v] : in)
    if (is_relayed_header(k) && !(k == "content-type" && v.starts_with("application/grpc")))
      out.emplace_back(std::move(k), std::move(v));
  return out;
}

std::string_view find_header(const HeaderList& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

// The request's own content-type travels on; bodies from gRPC have none.
std::string body_content_type(const Envelope& e) {
  return e.content_type.empty() ? "application/octet-stream" : e.content_type;
}

// State of one forwarded exchange; the responder runs exactly once.
struct Exchange {
  Responder done;
  bool answered = false;
  void answer(Response r) {
    if (answered) return;
    answered = true;
    done(std::move(r));
  }
};

}  // namespace

UpstreamTarget target_for_peer(const PeerConfig& p, Interface iface) {
  UpstreamTarget t;
  t.name = p.node_id;
  t.endpoint = *p.address;
  t.protocol = p.protocol;
  t.tls = p.tls;
  t.timeout = p.timeout;
  t.connect_timeout = p.connect_timeout;
  t.keepalive = p.keepalive;
  bool transport = iface == Interface::kTransport;
  if (p.protocol == PeerProtocol::kGrpc)
    t.path = std::string(transport ? kGrpcTransportPath : kGrpcInvokePath);
  else
    t.path = interface_path(iface);
  return t;
}

UpstreamTarget target_for_service(const LocalServiceConfig& s) {
  UpstreamTarget t;
  t.name = "service " + s.uri_pattern;
  t.endpoint = s.address;
  t.protocol = s.protocol;
  t.path = s.path;
  if (s.protocol == PeerProtocol::kGrpc && (t.path.empty() || t.path == "/"))
    t.path = std::string(kGrpcInvokePath);
  t.timeout = s.timeout;
  return t;
}

Response response_from_http(int http_status, HeaderList headers, std::string body,
                            const std::string& hop_name) {
  Response r;
  r.env.status = status_from_http(http_status, headers);
  if (!r.env.status.ok() && find_header(headers, "x-ptp-code").empty()) {
    r.env.status.message = "HTTP " + std::to_string(http_status) + " from " + hop_name;
    body.clear();
  }
  if (r.env.status.ok()) r.env.body = std::move(body);
  r.extra_headers = relayed(std::move(headers));
  return r;
}

void Forwarder::forward(Request req, const UpstreamTarget& target, Responder done) {
  if (target.protocol == PeerProtocol::kHttp1)
    forward_http1(std::move(req), target, std::move(done));
  else
    forward_h2(std::move(req), target, std::move(done));
}

void Forwarder::forward_http1(Request req, const UpstreamTarget& target, Responder done) {
  if (req.stream) {
    done(error_response(Status::Error(
        Code::kIncompatible,
        "streamed transport needs an http2 or grpc next hop; " + target.name + " speaks http1",
        cfg_.node_id)));
    return;
  }
  HeaderList headers = encode_headers(req.env);
  headers.emplace_back("content-type", body_content_type(req.env));
  Http1Target t;
  t.host = target.endpoint.host;
  t.port = target.endpoint.port;
  if (target.tls.enabled) {
    Status err;
    t.tls_context = h2_.tls_context(target.tls, err);  // the thread's pool owns it
    if (!t.tls_context) {
      err.message = target.name + " (" + target.endpoint.to_string() + "): " + err.message;
      err.hop = cfg_.node_id;
      done(error_response(std::move(err)));
      return;
    }
    t.tls = true;
    t.server_name = target.tls.server_name;
  }
  t.max_connections = cfg_.limits.http1_connections_per_host;
  std::string name = target.name, where = target.endpoint.to_string(), node = cfg_.node_id;
  h1_.post(t, target.path, std::move(headers), std::move(req.env.body), target.timeout,
           [done = std::move(done), name, where, node](Http1Result res) {
             if (!res.status.ok()) {
               res.status.message = name + " (" + where + "): " + res.status.message;
               res.status.hop = node;
               done(error_response(std::move(res.status)));
               return;
             }
             done(response_from_http(res.http_status, std::move(res.headers), std::move(res.body),
                                     name));
           });
}

void Forwarder::forward_h2(Request req, const UpstreamTarget& target, Responder done) {
  const bool grpc = target.protocol == PeerProtocol::kGrpc;
  const bool streamed = static_cast<bool>(req.stream);
  HeaderList headers{{":method", "POST"},
                     {":scheme", target.tls.enabled ? "https" : "http"},
                     {":authority", target.endpoint.to_string()},
                     {":path", target.path}};
  HeaderList ptp_headers = encode_headers(req.env);
  headers.reserve(headers.size() + 3 + ptp_headers.size());
  if (grpc) {
    headers.emplace_back("content-type", "application/grpc");
    headers.emplace_back("te", "trailers");
    if (!streamed) headers.emplace_back("grpc-timeout", grpc_timeout_header(target.timeout));
  } else {
    headers.emplace_back("content-type", body_content_type(req.env));
  }
  for (auto& h : ptp_headers) headers.push_back(std::move(h));

  std::shared_ptr<BodyPipe> body = req.stream;
  if (!body) {
    body = std::make_shared<BodyPipe>();
    body->write(grpc ? grpc_frame(encode_inbound(req.env)) : std::move(req.env.body));
    body->finish();
  }
  auto ex = std::make_shared<Exchange>();
  ex->done = std::move(done);
  const std::string node = cfg_.node_id;
  const std::string where = target.name + " (" + target.endpoint.to_string() + ")";
  const uint64_t max_body = cfg_.limits.max_body_bytes;
  const auto timeout = target.timeout;

  h2_.get(target.name, target.endpoint, target.tls, target.connect_timeout, target.keepalive,
          [=, headers = std::move(headers), body = std::move(body)](
              std::shared_ptr<H2ClientSession> session, Status st) mutable {
            if (!session) {
              st.hop = node;
              st.message = "next hop " + where + ": " + st.message;
              if (body) body->cancel();
              ex->answer(error_response(std::move(st)));
              return;
            }
            struct Upstream {
              int status = 0;
              HeaderList headers;
              std::string data;  // unary body, or partial gRPC frame bytes when streaming
              std::shared_ptr<BodyPipe> resp;
              std::unique_ptr<GrpcFrameParser> parser;
              std::unique_ptr<boost::asio::steady_timer> timer;
              int32_t id = 0;
            };
            auto up = std::make_shared<Upstream>();
            std::weak_ptr<H2ClientSession> weak = session;
            UpstreamHandler h;
            h.on_headers = [=](int status, HeaderList hdrs) {
              up->status = status;
              up->headers = std::move(hdrs);
              if (!streamed) return;
              Response r;
              if (status != 200 || (grpc && !find_header(up->headers, "grpc-status").empty())) {
                return;  // an error answer: reported when the stream closes
              }
              r.extra_headers = relayed(up->headers);
              up->resp = std::make_shared<BodyPipe>();
              if (grpc) up->parser = std::make_unique<GrpcFrameParser>(max_body + 5);
              int32_t id = up->id;
              up->resp->set_on_consumed([weak, id, grpc](size_t n) {
                if (auto s = weak.lock()) s->consume(id, grpc ? n + 5 : n);
              });
              up->resp->set_on_cancel([weak, id] {
                if (auto s = weak.lock()) s->reset(id);
              });
              r.stream = up->resp;
              ex->answer(std::move(r));
            };
            h.on_data = [=](std::string_view data) {
              auto s = weak.lock();
              if (up->resp) {
                if (!up->parser) {
                  up->resp->write(std::string(data));
                  return;
                }
                std::vector<std::string> msgs;
                Status ps = up->parser->feed(data, msgs);
                for (auto& m : msgs) {
                  Response piece;
                  if (ps.ok()) ps = parse_outbound_message(m, piece);
                  if (ps.ok()) up->resp->write(std::move(piece.env.body));
                }
                if (!ps.ok()) {
                  ps.hop = node;
                  up->resp->finish(ps);
                  if (s) s->reset(up->id);
                }
                return;
              }
              if (s) s->consume(up->id, data.size());
              if (up->data.size() + data.size() > max_body + 5) {
                if (s) s->reset(up->id);
                ex->answer(error_response(Status::Error(
                    Code::kTooLarge, "response from " + where + " exceeds the body limit", node)));
                return;
              }
              up->data.append(data);
            };
            h.on_close = [=](HeaderList trailers, uint32_t error_code) {
              if (up->timer) up->timer->cancel();
              if (ex->answered && !up->resp) return;
              Status st;
              if (error_code != 0 && up->status == 0) {
                auto why = find_header(trailers, "x-ptp-connection-error");
                st = Status::Error(Code::kUnreachable,
                                   "next hop " + where + " " +
                                       (why.empty() ? "reset the stream (HTTP/2 error " +
                                                          std::to_string(error_code) + ")"
                                                    : "connection lost: " + std::string(why)),
                                   node);
              } else if (grpc) {
                HeaderList all = up->headers;  // trailers-only answers put status in headers
                for (auto& t : trailers) all.push_back(t);
                st = up->status == 200 ? status_from_grpc_trailers(all, where)
                                       : Status::Error(Code::kIncompatible,
                                                       "HTTP " + std::to_string(up->status) +
                                                           " from gRPC peer " + where,
                                                       node);
              } else if (error_code != 0) {
                st = Status::Error(Code::kUnreachable,
                                   "next hop " + where + " reset the stream mid-body", node);
              }
              if (up->resp) {  // streaming: the head already went back
                up->resp->finish(st);
                return;
              }
              if (!st.ok()) {
                ex->answer(error_response(std::move(st)));
                return;
              }
              if (!grpc) {
                ex->answer(response_from_http(up->status, std::move(up->headers),
                                              std::move(up->data), where));
                return;
              }
              GrpcFrameParser parser(max_body + 5);
              std::vector<std::string> msgs;
              Status ps = parser.feed(up->data, msgs);
              Response r;
              if (ps.ok() && msgs.size() != 1)
                ps = Status::Error(Code::kCodecError, "gRPC answer from " + where + " carries " +
                                                          std::to_string(msgs.size()) +
                                                          " messages, expected 1");
              if (ps.ok()) ps = parse_outbound_message(msgs[0], r);
              if (!ps.ok()) {
                ps.hop = node;
                ex->answer(error_response(std::move(ps)));
                return;
              }
              for (auto& x : relayed(std::move(up->headers))) r.extra_headers.push_back(x);
              ex->answer(std::move(r));
            };
            int32_t id = session->submit(headers, body, grpc && streamed, std::move(h));
            if (id <= 0) {
              ex->answer(error_response(
                  Status::Error(Code::kUnreachable, "cannot open a stream to " + where, node)));
              return;
            }
            up->id = id;
            if (!streamed) {
              up->timer = std::make_unique<boost::asio::steady_timer>(session->executor());
              up->timer->expires_after(timeout);
              up->timer->async_wait([=](const boost::system::error_code& ec) {
                if (ec) return;
                if (auto s = weak.lock()) s->reset(up->id);
                ex->answer(error_response(Status::Error(Code::kTimeout,
                                                        "no answer from " + where + " within " +
                                                            std::to_string(timeout.count()) + " ms",
                                                        node)));
              });
            }
          });
}

}  // namespace ptp
