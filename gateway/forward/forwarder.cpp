#include "gateway/forward/forwarder.h"

#include <boost/container/small_vector.hpp>
#include <forward_list>

#include "codecs/grpc_frame.h"
#include "codecs/header_codec.h"
#include "codecs/proto_codec.h"
#include "gateway/forward/encapsulated_body.h"
#include "gateway/forward/h2_exchange.h"
#include "gateway/http/grpc_messages.h"
#include "gateway/http/grpc_paths.h"
#include "gateway/http/http_mapping.h"
#include "gateway/upstream/h2_client_session.h"
#include "gateway/upstream/http1_client.h"
#include "gateway/upstream/upstream_pool.h"

namespace ptp {
namespace {

// The request's own content-type travels on; bodies from gRPC have none.
// x-ptp-version, left out of encapsulated requests.
bool is_version_header(std::string_view prefix, std::string_view name) {
  return prefix.empty() && name == "x-ptp-version";
}

std::string_view body_content_type(const Envelope& e) {
  return e.content_type.empty() ? std::string_view("application/octet-stream")
                                : std::string_view(e.content_type);
}

}  // namespace

bool is_relayed_header(std::string_view k) {
  // The service's content-type travels back (a gRPC hop's own content-type does not).
  // Called for every header of every answer: one comparison by length, not fifteen.
  if (k.empty()) return true;
  if (k[0] == ':' || k.starts_with("grpc-")) return false;
  switch (k.size()) {
    case 2:
      return k != "te";
    case 3:
      return k != "via";
    case 4:
      return k != "date";
    case 6:
      return k != "server";
    case 9:
      static_assert(kPtpHopHeader.size() == 9);
      return k != kPtpHopHeader;
    case 10:
      static_assert(kPtpCodeHeader.size() == 10);
      return k != "connection" && k != "keep-alive" && k != kPtpCodeHeader;
    case 13:
      static_assert(kPtpMessageHeader.size() == 13);
      return k != kPtpMessageHeader;
    case 14:
      return k != "content-length" && k != "x-ptp-trace-id";
    case 16:
      return k != "x-ptp-session-id";
    case 17:
      return k != "transfer-encoding";
    default:
      return true;
  }
}

HeaderList relayed_headers(HeaderList in) {
  in.erase_if([](const HeaderList::Field& h) {
    return !is_relayed_header(h.first) ||
           (h.first == "content-type" && h.second.starts_with("application/grpc"));
  });
  return in;
}

UpstreamTarget target_for_peer(const PeerConfig& p, Interface iface) {
  UpstreamTarget t;
  t.name = p.node_id;
  t.endpoint = p.endpoint();  // with several addresses: the one the health checks chose
  t.protocol = p.protocol;
  t.tls = p.tls;
  t.timeout = p.timeout;
  t.connect_timeout = p.connect_timeout;
  t.keepalive = p.keepalive;
  t.encapsulation = p.encapsulation;
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
                            std::string_view hop_name, std::string_view hop_address) {
  Response r;
  r.env.status = status_from_http(http_status, headers);
  if (!r.env.status.ok() && find_header(headers, "x-ptp-code").empty()) {
    r.env.status.message = "HTTP " + std::to_string(http_status) + " from ";
    r.env.status.message.append(hop_name);
    if (!hop_address.empty()) r.env.status.message.append(" (").append(hop_address).append(")");
    body.clear();
  }
  if (r.env.status.ok()) r.env.body = std::move(body);
  r.extra_headers = relayed_headers(std::move(headers));
  return r;
}

void Forwarder::forward(Request&& req, const UpstreamTarget& target, Responder done) {
  if (target.protocol == PeerProtocol::kHttp1)
    forward_http1(std::move(req), target, std::move(done));
  else
    forward_h2(std::move(req), target, std::move(done));
}

void Forwarder::forward_http1(Request&& req, const UpstreamTarget& target, Responder done) {
  if (req.stream) {
    done(error_response(Status::Error(
        Code::kIncompatible,
        "streamed transport needs an http2 or grpc next hop; " + target.name + " speaks http1",
        cfg_.node_id)));
    return;
  }
  // Views into the request, serialized by post() before it returns.
  const auto encap = target.encapsulation;
  http1::HeaderViews headers;
  visit_encoded_headers(
      req.env, [&](std::string_view prefix, std::string_view name, std::string_view value, bool) {
        if (!encap || !is_version_header(prefix, name)) headers.push_back({prefix, name, value});
      });
  if (encap) {
    headers.push_back({{}, "content-type", content_type_of(*encap)});
    req.env.body = encapsulated_request_body(req.env, *encap);
  } else {
    headers.push_back({{}, "content-type", body_content_type(req.env)});
  }
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
  h1_.post(t, target.path, std::span(headers.data(), headers.size()), std::move(req.env.body),
           target.timeout,
           [done = std::move(done), name = target.name, where = target.endpoint.to_string(),
            node = cfg_.node_id, encap](Http1Result res) {
             if (!res.status.ok()) {
               res.status.message = name + " (" + where + "): " + res.status.message;
               res.status.hop = node;
               done(error_response(std::move(res.status)));
               return;
             }
             done(encap ? response_from_encapsulated_http(res.http_status, std::move(res.headers),
                                                          std::move(res.body), name)
                        : response_from_http(res.http_status, std::move(res.headers),
                                             std::move(res.body), name));
           });
}

void Forwarder::forward_h2(Request&& req, const UpstreamTarget& target, Responder done) {
  H2Exchange::Params p;
  p.node = cfg_.node_id;
  p.name = target.name;
  p.grpc = target.protocol == PeerProtocol::kGrpc;
  p.streamed = static_cast<bool>(req.stream);
  p.max_body = cfg_.limits.max_body_bytes;
  p.timeout = target.timeout;
  p.answer_before_trailers = req.answer_before_trailers;
  if (target.encapsulation && !p.grpc) {
    if (req.stream) {
      req.stream->cancel();
      done(error_response(Status::Error(Code::kIncompatible,
                                        "streamed transport cannot be encapsulated; " +
                                            target.name + " is a v1.1.0 peer (encapsulation: " +
                                            std::string(format_name(*target.encapsulation)) +
                                            "); use a grpc peer or x-ptp-version 1",
                                        cfg_.node_id)));
      return;
    }
    p.encapsulation = target.encapsulation;
  }
  auto ex = std::make_unique<H2Exchange>(std::move(done), std::move(p));
  if (H2ClientSession* session = h2_.ready(target.endpoint, target.tls)) {
    submit_h2(*session, req, target, std::move(ex));
    return;
  }
  // No open connection yet: the request waits for one (rare, so copies are fine here).
  struct Waiting {
    Request req;
    UpstreamTarget target;
    std::unique_ptr<H2Exchange> ex;
  };
  auto w = std::make_shared<Waiting>(Waiting{std::move(req), target, std::move(ex)});
  h2_.get(target.name, target.endpoint, target.tls, target.connect_timeout, target.keepalive,
          [w, node = cfg_.node_id](std::shared_ptr<H2ClientSession> session, Status st) {
            if (!w->ex) return;
            if (!session) {
              st.hop = node;
              st.message = "next hop " + w->target.name + " (" + w->target.endpoint.to_string() +
                           "): " + st.message;
              if (w->req.stream) w->req.stream->cancel();
              w->ex->answer(error_response(std::move(st)));
              return;
            }
            submit_h2(*session, w->req, w->target, std::move(w->ex));
          });
}

void Forwarder::submit_h2(H2ClientSession& session, Request& req, const UpstreamTarget& target,
                          std::unique_ptr<H2Exchange> ex) {
  const bool grpc = target.protocol == PeerProtocol::kGrpc;
  const bool streamed = static_cast<bool>(req.stream);
  const auto encap = target.encapsulation;
  // nghttp2 copies values (and names not marked static) while submitting: views into
  // live strings suffice.
  boost::container::small_vector<nghttp2_nv, 24> nv;
  nv.push_back(nv_of_static_name(":method", "POST"));
  nv.push_back(nv_of_static_name(":scheme", target.tls.enabled ? "https" : "http"));
  nv.push_back(nv_of_static_name(":authority", session.authority()));
  nv.push_back(nv_of_static_name(":path", target.path));
  std::string grpc_timeout;
  if (grpc) {
    nv.push_back(nv_of_static_name("content-type", "application/grpc"));
    nv.push_back(nv_of_static_name("te", "trailers"));
    if (!streamed) {
      grpc_timeout = grpc_timeout_header(target.timeout);
      nv.push_back(nv_of_static_name("grpc-timeout", grpc_timeout));
    }
  } else if (encap) {
    nv.push_back(nv_of_static_name("content-type", content_type_of(*encap)));
  } else {
    nv.push_back(nv_of_static_name("content-type", body_content_type(req.env)));
  }
  std::forward_list<std::string> joined;  // "x-ptp-" + bare meta names (nodes stay put)
  visit_encoded_headers(req.env, [&](std::string_view prefix, std::string_view name,
                                     std::string_view value, bool name_is_static) {
    if (encap && is_version_header(prefix, name)) return;
    if (!prefix.empty()) name = joined.emplace_front(std::string(prefix).append(name));
    nv.push_back(name_is_static ? nv_of_static_name(name, value) : nv_of(name, value));
  });
  // Encapsulated (docs/encapsulation.md): no x-ptp-version; gRPC's Inbound carries the
  // header fields in its metadata either way, HTTP's body becomes that Inbound.
  if (encap) {
    req.env.header.version.clear();
    if (!grpc && !streamed) req.env.body = encapsulated_request_body(req.env, *encap);
  }

  H2Exchange* x = ex.get();
  x->set_session(&session);
  std::unique_ptr<UpstreamObserver> observer = std::move(ex);
  std::span<const nghttp2_nv> headers(nv.data(), nv.size());
  int32_t id =
      streamed ? session.submit(headers, req.stream, grpc, observer)
               : session.submit(
                     headers, grpc ? grpc_frame(encode_inbound(req.env)) : std::move(req.env.body),
                     target.timeout, observer);
  if (id <= 0) {
    x->answer_error(Code::kUnreachable, "cannot open a stream to " + x->where());
    return;
  }
  x->set_stream_id(id);
}

}  // namespace ptp
