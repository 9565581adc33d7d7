// ptp-rc: the router client (docs/router.md). Talks only to its own gateway.
//   ptp-rc keygen --bits 2048 --public-key pk.bin --secret-key sk.bin
//   ptp-rc start-job   --gateway URL --node N --key-file F --job J --rs-a NODE --rs-b NODE
//                      --he-node NODE --parties N --party-nodes NODE[,NODE...] --ring 64|128
//                      --elements K --public-key pk.bin
//                      [--chunk-elements 16384] [--combine-at rc|rs_a] [--frac-bits 0]
//                      [--print-spec]
//   ptp-rc send-shares --gateway URL --node N --key-file F --job J --party I --ring 64|128
//                      --in shares.bin --rs-a NODE --rs-b NODE [--chunk-elements 16384]
//   ptp-rc receive     --gateway URL --node N --key-file F --job J --public-key pk.bin
//                      --out ct.bin [--timeout-s 120] [--combine-at rc|rs_a]
//   (every command with --gateway also takes --crypto international|gm: the gateway's profile)
//   ptp-rc decrypt     --secret-key sk.bin --in ct.bin --out plain.txt [--ring 64|128]
//                      [--threads N]
#include <charconv>
#include <exception>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/version.h"
#include "router/rc/rc_commands.h"

namespace {

using namespace ptp;

int usage() {
  std::cerr
      << "usage: ptp-rc keygen --bits 2048 --public-key pk.bin --secret-key sk.bin\n"
         "       ptp-rc start-job --gateway http://HOST:PORT --node NODE --key-file F --job J\n"
         "              --rs-a NODE --rs-b NODE --he-node NODE --parties N\n"
         "              --party-nodes NODE[,NODE...] --ring 64|128 --elements K\n"
         "              --public-key pk.bin [--chunk-elements 16384]\n"
         "              [--combine-at rc|rs_a] [--frac-bits 0] [--print-spec]\n"
         "       ptp-rc send-shares --gateway URL --node NODE --key-file F --job J --party I\n"
         "              --ring 64|128 --in shares.bin --rs-a NODE --rs-b NODE\n"
         "              [--chunk-elements 16384]\n"
         "       ptp-rc receive --gateway URL --node NODE --key-file F --job J\n"
         "              --public-key pk.bin --out ct.bin [--timeout-s 120] [--combine-at rc|rs_a]\n"
         "       (with --gateway: [--crypto international|gm], the gateway's crypto profile)\n"
         "       ptp-rc decrypt --secret-key sk.bin --in ct.bin --out plain.txt [--ring 64|128]\n"
         "              [--threads N]\n";
  return 2;
}

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Flags {
 public:
  Flags(int argc, char** argv, const std::set<std::string>& allowed,
        const std::set<std::string>& switches) {
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (!a.starts_with("--") || (!allowed.count(a) && !switches.count(a)))
        throw UsageError("unknown argument " + a);
      if (switches.count(a)) {
        v_[a] = "1";
      } else if (i + 1 < argc) {
        v_[a] = argv[++i];
      } else {
        throw UsageError(a + " needs a value");
      }
    }
  }
  bool has(const std::string& k) const { return v_.count(k) != 0; }
  std::string str(const std::string& k, std::string def = "") const {
    auto it = v_.find(k);
    return it == v_.end() ? def : it->second;
  }
  std::string required(const std::string& k) const {
    auto it = v_.find(k);
    if (it == v_.end() || it->second.empty()) throw UsageError(k + " is required");
    return it->second;
  }
  uint64_t number(const std::string& k, uint64_t def, bool required = false) const {
    auto it = v_.find(k);
    if (it == v_.end()) {
      if (required) throw UsageError(k + " is required");
      return def;
    }
    uint64_t x = 0;
    const std::string& s = it->second;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec != std::errc() || p != s.data() + s.size())
      throw UsageError(k + " expects a non-negative integer, got \"" + s + "\"");
    return x;
  }

 private:
  std::map<std::string, std::string> v_;
};

const std::set<std::string> kNodeFlags = {"--gateway", "--node", "--key-file", "--crypto"};

std::set<std::string> with_node(std::set<std::string> s) {
  s.insert(kNodeFlags.begin(), kNodeFlags.end());
  return s;
}

rc::NodeOptions node_options(const Flags& f) {
  return {f.required("--gateway"), f.required("--node"), f.required("--key-file"),
          f.str("--crypto", "international")};
}

// "a,b,c" -> {a, b, c}; empty items are kept (and refused as node ids later).
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::optional<rs::CombineAt> combine_at(const Flags& f) {
  if (!f.has("--combine-at")) return std::nullopt;
  auto c = rs::parse_combine_at(f.str("--combine-at"));
  if (!c) throw UsageError("--combine-at must be rc or rs_a");
  return c;
}

int run(int argc, char** argv) {
  const std::string cmd = argv[1];
  if (cmd == "keygen") {
    Flags f(argc, argv, {"--bits", "--public-key", "--secret-key"}, {});
    rc::KeygenOptions o;
    o.bits = static_cast<int>(f.number("--bits", 2048));
    o.public_key = f.required("--public-key");
    o.secret_key = f.required("--secret-key");
    rc::keygen(o, std::cout);
  } else if (cmd == "start-job") {
    Flags f(argc, argv,
            with_node({"--job", "--rs-a", "--rs-b", "--he-node", "--parties", "--party-nodes",
                       "--ring", "--elements", "--public-key", "--chunk-elements", "--combine-at",
                       "--frac-bits"}),
            {"--print-spec"});
    rc::StartJobOptions o;
    o.print_spec = f.has("--print-spec");
    if (!o.print_spec || f.has("--gateway")) o.node = node_options(f);
    o.job = f.required("--job");
    o.rs_a = f.required("--rs-a");
    o.rs_b = f.required("--rs-b");
    o.he_node = f.required("--he-node");
    o.parties = static_cast<int>(f.number("--parties", 0, true));
    o.party_nodes = split_list(f.required("--party-nodes"));
    o.ring = static_cast<int>(f.number("--ring", 0, true));
    o.elements = f.number("--elements", 0, true);
    o.public_key = f.required("--public-key");
    o.chunk_elements = f.number("--chunk-elements", rs::kDefaultChunkElements);
    o.frac_bits = static_cast<int>(f.number("--frac-bits", 0));
    o.combine_at = combine_at(f);
    rc::start_job(o, std::cout);
  } else if (cmd == "send-shares") {
    Flags f(
        argc, argv,
        with_node({"--job", "--party", "--ring", "--in", "--rs-a", "--rs-b", "--chunk-elements"}),
        {});
    rc::SendSharesOptions o;
    o.node = node_options(f);
    o.job = f.required("--job");
    o.party = static_cast<int>(f.number("--party", 0, true));
    o.ring = static_cast<int>(f.number("--ring", 0, true));
    o.in = f.required("--in");
    o.rs_a = f.required("--rs-a");
    o.rs_b = f.required("--rs-b");
    o.chunk_elements = f.number("--chunk-elements", rs::kDefaultChunkElements);
    rc::send_shares(o, std::cout);
  } else if (cmd == "receive") {
    Flags f(argc, argv,
            with_node({"--job", "--public-key", "--out", "--timeout-s", "--combine-at"}), {});
    rc::ReceiveOptions o;
    o.node = node_options(f);
    o.job = f.required("--job");
    o.public_key = f.required("--public-key");
    o.out = f.required("--out");
    o.timeout_s = static_cast<int>(f.number("--timeout-s", 120));
    o.combine_at = combine_at(f);
    rc::receive(o, std::cout);
  } else if (cmd == "decrypt") {
    Flags f(argc, argv, {"--secret-key", "--in", "--out", "--ring", "--threads"}, {});
    rc::DecryptOptions o;
    o.secret_key = f.required("--secret-key");
    o.in = f.required("--in");
    o.out = f.required("--out");
    o.ring = static_cast<int>(f.number("--ring", 0));
    o.threads = static_cast<unsigned>(f.number("--threads", 0));
    rc::decrypt(o, std::cout);
  } else {
    return usage();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-rc")) return 0;
  if (argc < 2) return usage();
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "ptp-rc " << argv[1] << ": " << e.what() << "\n";
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "ptp-rc " << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
}
