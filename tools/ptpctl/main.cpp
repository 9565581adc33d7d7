// ptpctl: the operator's command for a PTP gateway (docs/ptpctl.md): its identity files
// and, over the admin port, its status, peers, permits, queues (inspection, purge, backups
// restored offline) and router jobs;
// evidence logs (local files).
#include <iostream>

#include "common/version.h"
#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/options.h"

namespace {

constexpr const char* kUsage =
    R"(usage: ptpctl [--admin HOST:PORT] [--config GATEWAY.yaml] [--credential-file FILE] [--json]
              COMMAND ...
       ptpctl --version

identity (local files, docs/identity.md):
  identity init --node-id A --inst-id I --address HOST:PORT [--dir D] [--algorithm ALG]
                [--host H]... [--days N] [--tls-days N]
                                  create the node key, root and TLS certificate (never overwrites)
  identity show [--dir D]         node, algorithm, root fingerprint, validity
  identity renew-tls [--dir D] [--host H]... [--tls-days N]
                                  a new TLS key and certificate under the same root

evidence (local files, docs/evidence.md):
  evidence verify DIR [--digest sha256|sm3] [--root ROOT.crt]
                                  check an evidence log's chain; names the first bad record
  evidence match SENDER_DIR RECEIVER_DIR [--receiver NODE] [--digest sha256|sm3]
                                  every message sent has its received record and receipt
  evidence export DIR --msg LEAF [--out FILE]
                                  one message's proof (fields, signature, receipt, countersign)
  evidence check-proof FILE --root A.crt --root B.crt [--root R.crt]
                                  check a proof offline against the nodes' root certificates

commands (over the admin port):
  status                          liveness and readiness of the gateway
  reload                          reload the gateway's config file now (as SIGHUP)
  routes                          the effective route table: each peer's next hop and the
                                  address in use, the default route, the local services
  routes NODE [--inst I] [--uri U]
                                  where a request to NODE (or institution I) goes now
  peers list                      the effective peer table (YAML and dynamic peers)
  peers invite NODE [--ttl S]     an invitation for NODE (printed alone on stdout)
  peers join INVITATION           join the node that issued INVITATION
  peers disable|enable|approve NODE
  peers renew NODE [--days N]     extend a peering
  peers remove NODE               forget a dynamic peer
  queues backup DIR               copy the queue stores into DIR (on the gateway's host) while
                                  the gateway serves; answers once complete, with what it holds
  queues list [--store inbox|outbox] [--node N] [--session S] [--topic T]
                                  queues with messages, bytes, leased and the oldest's age
  queues peek SESSION TOPIC [--store S] [--node N] [--count N]
                                  the first messages of a queue, without taking them
  queues purge SESSION [TOPIC] [--store S] [--node N] [--yes]
                                  delete a session's (or one topic's) queued messages; asks to
                                  type the session id unless --yes (no terminal: exit 2)
  queues dead-letters [--session S] [--count N]
                                  dead letters in the inbox, with their code, target and reason
  jobs list                       the router-server jobs of the gateway (router_server)
  jobs show ID                    one router job: state, parties, elements, times, error
  permits issue NODE --type T --resource R [--level N] [--valid S | --not-after UNIX]
                [--uses N] [--grantee-inst I]
                                  a permit for NODE signed by this node (printed alone on stdout)
  permits list                    permits this node issued (with uses) and holds
  permits revoke ID               revoke a permit this node issued
  permits add PERMIT              hold a permit another node issued to this node
  permits remove ID               forget a held permit
  diagnose NODE [--uri U] [--max-body N] [--idle S]
                                  probe hop by hop toward NODE (connect, TLS, auth, rtt, MB/s,
                                  largest body, idle); names the failing hop and why

queue data (local files, the gateway stopped):
  queues restore BACKUP DATA_DIR  copy a backup into an empty DATA_DIR and check it

The admin port is --admin, else 127.0.0.1 with admin.port of --config, else 127.0.0.1:9400.
Mutating commands need the operator token: --credential-file, else admin.credential_file of
--config. --json prints the gateway's JSON answer unchanged.
Exit status: 0 done, 1 refused or failed, 2 bad command line, 3 admin port unreachable.
)";

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptpctl")) return 0;
  using namespace ptp::ptpctl;
  try {
    const Options o = parse_options(argc, argv);
    if (o.help || o.words.empty()) {
      (o.help ? std::cout : std::cerr) << kUsage;
      return o.help ? kExitOk : kExitUsage;
    }
    const std::string& cmd = o.words[0];
    if (cmd == "identity") return run_identity(o);
    if (cmd == "status") return run_status(o);
    if (cmd == "reload") return run_reload(o);
    if (cmd == "peers") return run_peers(o);
    if (cmd == "queues") return run_queues(o);
    if (cmd == "permits") return run_permits(o);
    if (cmd == "jobs") return run_jobs(o);
    if (cmd == "evidence" && o.words.size() > 1 &&
        (o.words[1] == "export" || o.words[1] == "check-proof"))
      return run_evidence_proof(o);
    if (cmd == "evidence") return run_evidence(o);
    if (cmd == "diagnose") return run_diagnose(o);
    if (cmd == "routes") return run_routes(o);
    throw UsageError("unknown command " + cmd + " (ptpctl --help lists them)");
  } catch (const UsageError& e) {
    std::cerr << "ptpctl: " << e.what() << "\n";
    return kExitUsage;
  } catch (const Unreachable& e) {
    std::cerr << "ptpctl: " << e.what() << "\n";
    return kExitUnreachable;
  } catch (const std::exception& e) {
    std::cerr << "ptpctl: " << e.what() << "\n";
    return kExitFailed;
  }
}
