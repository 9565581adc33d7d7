#include "gateway/observability/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "gateway/observability/metrics.h"
#include "gateway/observability/scrape_family.h"

namespace ptp {
namespace {

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

// Entries of /proc/self/fd but the one the listing itself holds; -1 when unreadable.
long open_descriptors() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), ::closedir);
  if (!dir) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(dir.get()))
    if (e->d_name[0] != '.') ++n;
  return n - 1;
}

// Virtual and resident size in bytes from /proc/self/statm (in pages); false if unreadable.
bool memory(double& virt, double& resident) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen("/proc/self/statm", "r"), std::fclose);
  unsigned long pages = 0, res = 0;
  if (!f || std::fscanf(f.get(), "%lu %lu", &pages, &res) != 2) return false;
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  virt = static_cast<double>(pages) * page;
  resident = static_cast<double>(res) * page;
  return true;
}

}  // namespace

void add_process_metrics(Metrics& metrics, std::string data_dir) {
  const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  metrics.add_collector([start, data_dir = std::move(data_dir)](
                            std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) == 0)
      scrape::counter(out, "ptp_process_cpu_seconds_total",
                      "CPU time (user and system) the process used",
                      seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime));
    double virt = 0, resident = 0;
    if (memory(virt, resident)) {
      scrape::gauge(out, "ptp_process_resident_memory_bytes", "Resident memory of the process",
                    resident);
      scrape::gauge(out, "ptp_process_virtual_memory_bytes", "Virtual memory of the process", virt);
    }
    if (long fds = open_descriptors(); fds >= 0)
      scrape::gauge(out, "ptp_process_open_fds", "File descriptors the process holds open",
                    static_cast<double>(fds));
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      scrape::gauge(out, "ptp_process_max_fds", "Limit of open file descriptors (soft)",
                    static_cast<double>(rl.rlim_cur));
    scrape::gauge(out, "ptp_process_start_time_seconds", "Unix time the process started", start);
    struct statvfs v {};
    if (!data_dir.empty() && ::statvfs(data_dir.c_str(), &v) == 0) {
      scrape::gauge(out, "ptp_data_dir_free_bytes",
                    "Bytes an unprivileged writer may still write on the data directory's "
                    "file system",
                    static_cast<double>(v.f_bavail) * static_cast<double>(v.f_frsize));
      scrape::gauge(out, "ptp_data_dir_size_bytes", "Size of the data directory's file system",
                    static_cast<double>(v.f_blocks) * static_cast<double>(v.f_frsize));
    }
  });
}

}  // namespace ptp
