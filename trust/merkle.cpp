#include "trust/merkle.h"

#include <string_view>

namespace ptp {
namespace {

std::string_view view(const Digest32& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace

Digest32 merkle_leaf_hash(Hasher& h, const Digest32& data) {
  h.update(std::string_view("\x00", 1));
  h.update(view(data));
  return h.finish();
}

Digest32 merkle_node_hash(Hasher& h, const Digest32& left, const Digest32& right) {
  h.update(std::string_view("\x01", 1));
  h.update(view(left));
  h.update(view(right));
  return h.finish();
}

std::vector<std::vector<Digest32>> merkle_levels(Hasher& h, std::vector<Digest32> leaf_hashes) {
  std::vector<std::vector<Digest32>> levels;
  levels.push_back(std::move(leaf_hashes));
  while (levels.back().size() > 1) {
    const auto& below = levels.back();
    std::vector<Digest32> up;
    up.reserve((below.size() + 1) / 2);
    for (size_t i = 0; i < below.size(); i += 2)
      up.push_back(i + 1 < below.size() ? merkle_node_hash(h, below[i], below[i + 1]) : below[i]);
    levels.push_back(std::move(up));
  }
  return levels;
}

std::vector<Digest32> merkle_path(const std::vector<std::vector<Digest32>>& levels, size_t index) {
  std::vector<Digest32> path;
  for (size_t l = 0; l + 1 < levels.size(); ++l, index >>= 1) {
    const size_t sibling = index ^ 1;
    if (sibling < levels[l].size()) path.push_back(levels[l][sibling]);
  }
  return path;
}

void merkle_path_step(Hasher& h, const Digest32& p, Digest32& r, size_t& fn, size_t& sn) {
  if ((fn & 1) || fn == sn) {
    r = merkle_node_hash(h, p, r);
    while (!(fn & 1) && fn != 0) {
      fn >>= 1;
      sn >>= 1;
    }
  } else {
    r = merkle_node_hash(h, r, p);
  }
  fn >>= 1;
  sn >>= 1;
}

std::optional<Digest32> merkle_root_from_path(Hasher& h, const Digest32& leaf_hash, size_t index,
                                              size_t n, std::span<const Digest32> path) {
  if (index >= n) return std::nullopt;
  size_t fn = index, sn = n - 1;
  Digest32 r = leaf_hash;
  for (const Digest32& p : path) {
    if (sn == 0) return std::nullopt;
    merkle_path_step(h, p, r, fn, sn);
  }
  if (sn != 0) return std::nullopt;
  return r;
}

}  // namespace ptp
