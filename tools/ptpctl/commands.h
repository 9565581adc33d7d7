// ptpctl's command groups, one file each; each returns the process's exit status
// (options.h) and prints to stdout (results) and stderr (errors).
#pragma once

#include "tools/ptpctl/options.h"

namespace ptp::ptpctl {

int run_status(const Options& o);    // status
int run_reload(const Options& o);    // reload
int run_peers(const Options& o);     // peers list|invite|join|disable|enable|approve|renew|remove
int run_identity(const Options& o);  // identity init|show|renew-tls
int run_queues(const Options& o);    // queues list|peek|purge|dead-letters|backup|restore
int run_permits(const Options& o);   // permits issue|list|revoke|add|remove
int run_evidence(const Options& o);  // evidence verify|match (local log directories)
// evidence export|check-proof (tools/ptpctl/evidence_proof.cpp)
int run_evidence_proof(const Options& o);
int run_diagnose(const Options& o);  // diagnose NODE (hop by hop, tools/ptpctl/diagnose.cpp)
int run_routes(const Options& o);    // routes [NODE] [--inst I] [--uri U]

// queues list|peek|purge|dead-letters (tools/ptpctl/queue_inspect.cpp)
int run_queue_inspect(const Options& o);
int run_jobs(const Options& o);  // jobs list|show (tools/ptpctl/jobs.cpp)

}  // namespace ptp::ptpctl
