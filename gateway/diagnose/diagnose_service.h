// `ptpctl diagnose` at a gateway (docs/ptpctl.md "diagnose"): the admin route
// POST /diagnose/hop and the in-band ptp/diag/hop. One diagnosis at a time per node (a
// second meanwhile: E0000000700 "a diagnosis is running"), each on a thread of its own with
// an io_context and connections of its own, bounded in time (kProbeBudgetS + idle_s) and
// in size (bodies up to this node's limits.max_body_bytes); never on an I/O thread.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "gateway/config/config_store.h"
#include "gateway/diagnose/hop_query.h"
#include "gateway/exchange/exchange.h"
#include "gateway/observability/admin_server.h"
#include "gateway/observability/json_log.h"

namespace ptp {

class DiagnoseService {
 public:
  DiagnoseService(ConfigStore& store, JsonLog& log);
  ~DiagnoseService();  // stops a running diagnosis and waits for its thread
  DiagnoseService(const DiagnoseService&) = delete;
  DiagnoseService& operator=(const DiagnoseService&) = delete;

  // POST /diagnose/hop {"node","from","uri","max_body","idle_s"}: this node's hop report
  // (from empty or this node), else node `from`'s, asked in-band (an invoke to `from`
  // with x-ptp-uri ptp/diag/hop, routed as this node's own request). 200 with the hop
  // report; 400 a bad body; 409 a diagnosis is running here.
  void admin(AdminRequest req, AdminRespond respond);
  // The in-band ptp/diag/hop (called by the pipeline once the request is authenticated
  // and authorized): this node's hop report as the answer's JSON body; `answer` runs on `ex`.
  void serve(ConfigPtr cfg, Request&& req, boost::asio::any_io_executor ex, Responder answer);
  void stop();

 private:
  // Hands `job` to the diagnosis thread unless a diagnosis runs (false). The job calls
  // release() before it answers, so that the next request finds the node free.
  bool start(std::function<void()> job);
  void release();
  void work();  // the diagnosis thread
  // Node q.from's hop report, asked in-band: {HTTP status, body} of the admin answer.
  std::pair<unsigned, std::string> ask_remote(const ConfigPtr& cfg, const HopQuery& q);

  ConfigStore& store_;
  JsonLog& log_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool busy_ = false;          // guarded by mu_
  std::function<void()> job_;  // guarded by mu_
  std::thread worker_;         // last: started once the members above exist
};

}  // namespace ptp
