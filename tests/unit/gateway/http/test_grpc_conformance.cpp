// gRPC over HTTP/2 details: which content types are gRPC, and how a PTP error is answered
// in each listen.grpc_errors style.
#include <doctest/doctest.h>

#include "codecs/ptp.pb.h"
#include "gateway/http/grpc_messages.h"
#include "gateway/http/grpc_paths.h"

using namespace ptp;

TEST_CASE("gRPC content types are exact") {
  for (auto ct : {"application/grpc", "application/grpc+proto", "application/grpc;charset=x",
                  "application/grpc+proto; q=1", "Application/GRPC", "application/grpc ;a=b"})
    CHECK_MESSAGE(classify_grpc_content_type(ct) == GrpcContentType::kGrpc, ct);
  for (auto ct : {"application/grpc+json", "application/grpc+thrift;x=1"})
    CHECK_MESSAGE(classify_grpc_content_type(ct) == GrpcContentType::kUnsupported, ct);
  for (auto ct : {"application/grpc-web", "application/grpc-web+proto", "application/grpcXYZ",
                  "application/grpc+", "application/json", "", "application/grp"})
    CHECK_MESSAGE(classify_grpc_content_type(ct) == GrpcContentType::kNone, ct);
}

TEST_CASE("gRPC error trailers: status style maps the code, message style says OK") {
  Status st = Status::Error(Code::kForbidden, "bad token", "B");
  HeaderList t = grpc_status_trailers(st, GrpcErrors::kStatus);
  CHECK(find_header(t, "grpc-status") == "7");
  CHECK(!find_header(t, "grpc-message").empty());
  CHECK(find_header(t, "x-ptp-code") == "E0000000403");
  t = grpc_status_trailers(st, GrpcErrors::kMessage);
  CHECK(find_header(t, "grpc-status") == "0");
  CHECK(find_header(t, "grpc-message").empty());
  CHECK(find_header(t, "x-ptp-code") == "E0000000403");
  CHECK(find_header(t, "x-ptp-hop") == "B");
  // Our own reading of such trailers: the call succeeded, the answer message has the rest.
  CHECK(status_from_grpc_trailers(t, "peer").ok());
}

TEST_CASE("an error Outbound carries code, message and hop, and reads back the same") {
  Response r = error_response(Status::Error(Code::kNotPeered, "no route to Z", "A"));
  std::string bytes = outbound_message(r);
  org::ppc::ptp::Outbound out;
  REQUIRE(out.ParseFromString(bytes));
  CHECK(out.code() == "E0000000618");
  CHECK(out.message() == "no route to Z");
  CHECK(out.metadata().at("x-ptp-hop") == "A");
  Response back;
  REQUIRE(parse_outbound_message(bytes, back).ok());
  CHECK(back.env.status.code == Code::kNotPeered);
  CHECK(back.env.status.message == "no route to Z");
  CHECK(back.env.status.hop == "A");
  CHECK(back.extra_headers.empty());  // x-ptp-hop is the status's, not a header to relay
  // An error without a message of its own says what the code means.
  CHECK(outbound_message(error_response(Status::Error(Code::kTimeout, ""))).find("timeout") !=
        std::string::npos);
}
