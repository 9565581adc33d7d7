// The privacy router's end-to-end conversion rate against the machine's encryption-only rate
// (docs/benchmarks.md, "Router conversion (router/rs)"). Run by hand:
//   ptp-bench-router_bench [--elements 100000] [--parties 3] [--ring 64] [--workers 0]
//                          [--bits 2048] [--keep]
//
// End to end, with real processes on this machine: the four gateways of conf/router (S, H,
// RA with RS-A, RB with RS-B; copies in a temp dir with router_server.workers = --workers and
// log level warn), then the clock runs from `ptp-rc start-job` through the n `ptp-rc
// send-shares` processes (in parallel) to the end of `ptp-rc receive` (the file with [x]
// written). Key generation and gateway start-up are not timed. A sample of [x] is decrypted
// in-process and checked against x.
//
// Encryption only: the same work without any transport: two pools of --workers threads (as
// RS-A and RS-B have) each encrypt --elements values at the same time, with the same key and
// the RS's own encryption path (router/rs/parallel_encrypt.h, batched).
//
// It runs before and after the end-to-end run (the machine may be shared); the reference is
// the mean of the two.
//
// Prints both rates (elements/s) and their ratio (the goal is >= 0.8).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/version.h"
#include "router/he/bignum.h"
#include "router/he/he_wire.h"
#include "router/he/paillier.h"
#include "router/rc/key_files.h"
#include "router/rs/parallel_encrypt.h"
#include "router/rs/worker_pool.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ptp::rs::WorkerPool;
using u128 = unsigned __int128;
using i128 = __int128;

struct Options {
  uint64_t elements = 100000;
  int parties = 3;
  int ring = 64;
  unsigned workers = 0;
  int bits = 2048;
  bool keep = false;
};

double secs(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "router_bench: %s\n", what.c_str());
  std::exit(1);
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) die("cannot start " + args[0]);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void run(const std::vector<std::string>& args, const fs::path& log) {
  if (wait_for(spawn(args, log)) != 0) die(args[1] + " failed, see " + log.string());
}

// GET http://127.0.0.1:<port>/readyz until it answers 200.
void wait_ready(uint16_t port) {
  namespace http = boost::beast::http;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    try {
      boost::asio::io_context ioc;
      boost::beast::tcp_stream s(ioc);
      s.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
      http::request<http::empty_body> req{http::verb::get, "/readyz", 11};
      req.set(http::field::host, "127.0.0.1");
      http::write(s, req);
      boost::beast::flat_buffer b;
      http::response<http::string_body> res;
      http::read(s, b, res);
      if (res.result_int() == 200) return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  die("gateway with admin port " + std::to_string(port) + " did not get ready");
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void replace(std::string& text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) die("config template lacks \"" + from + "\"");
  text.replace(at, from.size(), to);
}

// Two pools of `workers` threads, each encrypting `elements` values at once, the way the RS
// encrypts a result chunk (parallel_encrypt: batched, one lane group per task).
double encryption_only_rate(const ptp::he::PublicKey& pk, uint64_t elements, unsigned workers) {
  WorkerPool a(workers), b(workers);
  std::vector<int64_t> plain;
  std::mt19937_64 rng(7);
  for (uint64_t i = 0; i < elements; ++i) plain.push_back(static_cast<int64_t>(rng()));
  auto work = [&](WorkerPool& pool) {
    ptp::rs::parallel_encrypt(
        pk, elements, [&](size_t i) { return ptp::he::bn_from_i64(plain[i]); }, pool);
  };
  const auto t0 = Clock::now();
  std::thread ta([&] { work(a); });
  std::thread tb([&] { work(b); });
  ta.join();
  tb.join();
  return static_cast<double>(elements) / secs(t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-router_bench")) return 0;
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (a == "--elements") {
      o.elements = std::stoull(next());
    } else if (a == "--parties") {
      o.parties = std::stoi(next());
    } else if (a == "--ring") {
      o.ring = std::stoi(next());
    } else if (a == "--workers") {
      o.workers = static_cast<unsigned>(std::stoul(next()));
    } else if (a == "--bits") {
      o.bits = std::stoi(next());
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--elements 100000] [--parties 3] [--ring 64|128] [--workers 0] "
                   "[--bits 2048] [--keep]\n",
                   argv[0]);
      return 2;
    }
  }
  if (o.ring != 64 && o.ring != 128) die("--ring must be 64 or 128");
  const unsigned workers =
      o.workers ? o.workers : std::max(1u, std::thread::hardware_concurrency());
  const fs::path bin = fs::canonical("/proc/self/exe").parent_path();
  const fs::path conf = fs::path(__FILE__).parent_path() / "../../conf/router";
  char tmpl[] = "/tmp/ptp-router-bench-XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp failed");
  const fs::path work = tmpl;
  const std::string gw = (bin / "ptp-gateway").string(), rc = (bin / "ptp-rc").string();

  // Gateways.
  struct Gw {
    const char* name;
    const char* node;
    uint16_t admin;
  };
  const Gw gws[] = {{"s", "S", 17430}, {"h", "H", 17431}, {"ra", "RA", 17432}, {"rb", "RB", 17433}};
  std::vector<pid_t> gw_pids;
  for (const Gw& g : gws) {
    std::string text = read_text(conf / (std::string(g.name) + ".yaml"));
    replace(text, "log: {level: info}", "log: {level: warn}");
    if (g.name[0] == 'r') replace(text, "workers: 0 ", "workers: " + std::to_string(workers) + " ");
    const fs::path cfg = work / (std::string(g.name) + ".yaml");
    std::ofstream(cfg) << text;
    std::ofstream(work / (std::string(g.node) + ".key"))
        << "demo-only-secret-" << g.node << "-do-not-use-in-production\n";
    gw_pids.push_back(spawn({gw, "--config", cfg.string(), "--data-dir",
                             (work / ("data-" + std::string(g.name))).string()},
                            work / ("gw-" + std::string(g.name) + ".log")));
  }
  for (const Gw& g : gws) wait_ready(g.admin);

  // Key, x and its shares.
  const fs::path pk = work / "pk.bin", sk = work / "sk.bin", log = work / "rc.log";
  run({rc, "keygen", "--bits", std::to_string(o.bits), "--public-key", pk.string(), "--secret-key",
       sk.string()},
      log);
  std::mt19937_64 rng(20261130);
  const u128 mask = o.ring == 128 ? ~u128{0} : (u128{1} << 64) - 1;
  std::vector<i128> x(o.elements);
  std::vector<std::vector<u128>> parts(o.parties, std::vector<u128>(o.elements));
  for (uint64_t i = 0; i < o.elements; ++i) {
    x[i] = static_cast<i128>(static_cast<int32_t>(rng()));
    u128 rest = static_cast<u128>(x[i]);
    for (int p = 0; p + 1 < o.parties; ++p) {
      parts[p][i] = ((u128{rng()} << 64) | rng()) & mask;
      rest -= parts[p][i];
    }
    parts[o.parties - 1][i] = rest & mask;
  }
  const size_t width = static_cast<size_t>(o.ring / 8);
  for (int p = 0; p < o.parties; ++p) {
    std::string bytes(o.elements * width, '\0');
    for (uint64_t i = 0; i < o.elements; ++i)
      for (size_t b = 0; b < width; ++b)
        bytes[i * width + b] = static_cast<char>((parts[p][i] >> (8 * b)) & 0xff);
    ptp::rc::write_file((work / ("share" + std::to_string(p + 1) + ".bin")).string(), bytes);
  }

  // Encryption only, before the end-to-end run (and again after it: the machine is shared,
  // so the mean of the two is the reference).
  ptp::he::PrivateKey key = ptp::rc::read_secret_key(sk.string(), o.bits);
  const double enc_before = encryption_only_rate(key.public_key(), o.elements, workers);

  // End to end.
  const std::string job = "bench-" + std::to_string(::getpid());
  auto node = [&](const char* n, const char* port) {
    return std::vector<std::string>{"--gateway",  std::string("http://127.0.0.1:") + port,
                                    "--node",     n,
                                    "--key-file", (work / (std::string(n) + ".key")).string()};
  };
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  std::printf(
      "router_bench: %llu elements, ring %d, %d parties, |n| = %d, RS workers %u each, "
      "work dir %s\n",
      static_cast<unsigned long long>(o.elements), o.ring, o.parties, o.bits, workers,
      work.c_str());
  const auto t0 = Clock::now();
  run(with(with({rc, "start-job"}, node("H", "17331")),
           {"--job", job, "--rs-a", "RA", "--rs-b", "RB", "--he-node", "H", "--parties",
            std::to_string(o.parties), "--party-nodes", "S", "--ring", std::to_string(o.ring),
            "--elements", std::to_string(o.elements), "--public-key", pk.string()}),
      log);
  std::vector<pid_t> senders;
  for (int p = 1; p <= o.parties; ++p)
    senders.push_back(
        spawn(with(with({rc, "send-shares"}, node("S", "17330")),
                   {"--job", job, "--party", std::to_string(p), "--ring", std::to_string(o.ring),
                    "--in", (work / ("share" + std::to_string(p) + ".bin")).string(), "--rs-a",
                    "RA", "--rs-b", "RB"}),
              log));
  const fs::path ct = work / "x.ct";
  pid_t receiver = spawn(
      with(with({rc, "receive"}, node("H", "17331")),
           {"--job", job, "--public-key", pk.string(), "--out", ct.string(), "--timeout-s", "600"}),
      log);
  for (pid_t s : senders)
    if (wait_for(s) != 0) die("send-shares failed, see " + log.string());
  if (wait_for(receiver) != 0) die("receive failed, see " + log.string());
  const double e2e_secs = secs(t0);
  const double e2e_rate = static_cast<double>(o.elements) / e2e_secs;

  for (pid_t pid : gw_pids) kill(pid, SIGTERM);
  for (pid_t pid : gw_pids) wait_for(pid);

  // Check a sample of [x].
  ptp::he::CiphertextArray arr =
      ptp::he::decode_ciphertexts(ptp::rc::read_file(ct.string()), key.public_key());
  if (arr.items.size() != o.elements) die("[x] has the wrong number of elements");
  for (uint64_t i = 0; i < o.elements; i += std::max<uint64_t>(1, o.elements / 100)) {
    auto v = ptp::he::bn_to_i128(ptp::he::decrypt(key, arr.items[i]).get());
    if (!v || *v != x[i]) die("element " + std::to_string(i) + " decrypts to the wrong value");
  }

  // Encryption only again, same threads, same key, the gateways stopped.
  const double enc_after = encryption_only_rate(key.public_key(), o.elements, workers);
  const double enc_rate = (enc_before + enc_after) / 2;
  std::printf("end to end (start-job .. [x] written)     %10.1f elements/s  (%.2f s)\n", e2e_rate,
              e2e_secs);
  std::printf(
      "encryption only (2 x %u threads, 2 enc/el) %10.1f elements/s  (before %.1f, after "
      "%.1f)\n",
      workers, enc_rate, enc_before, enc_after);
  std::printf("ratio                                      %10.2f  (goal >= 0.8)\n",
              e2e_rate / enc_rate);
  if (!o.keep) fs::remove_all(work);
  return 0;
}
