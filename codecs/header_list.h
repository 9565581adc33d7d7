// Name/value pairs as they appear on a wire (HTTP headers, gRPC metadata, Kafka headers),
// in order, duplicates allowed. All names and values live back to back in one string:
// an answer's dozen or more headers cost two allocations, not one or two per header, and
// go away with two frees (headers are copied in and out on every forwarded request).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptp {

class HeaderList {
 public:
  // One field: views into the list, valid until it is changed or destroyed.
  struct Field {
    std::string_view first;   // name
    std::string_view second;  // value
    bool operator==(const Field&) const = default;
  };

  class const_iterator {
   public:
    // Yields Fields by value (views), so an input iterator, not a random-access one.
    using iterator_category = std::input_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Field;

    const_iterator() = default;
    Field operator*() const { return list_->at(i_); }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }

   private:
    friend class HeaderList;
    const_iterator(const HeaderList* l, size_t i) : list_(l), i_(i) {}
    const HeaderList* list_ = nullptr;
    size_t i_ = 0;
  };
  using iterator = const_iterator;
  using value_type = Field;

  HeaderList() = default;
  HeaderList(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    for (const auto& [n, v] : fields) emplace_back(n, v);
  }
  // From any range of name/value pairs (a std::map of metadata, say).
  template <class It>
  HeaderList(It first, It last) {
    for (; first != last; ++first) emplace_back(first->first, first->second);
  }

  void emplace_back(std::string_view name, std::string_view value) {
    Entry e{offset(), static_cast<uint32_t>(name.size()), 0, static_cast<uint32_t>(value.size())};
    bytes_.append(name);
    e.value_at = offset();
    bytes_.append(value);
    entries_.push_back(e);
  }
  // The same with the name lower-cased (ASCII) on the way in.
  void emplace_back_lowered_name(std::string_view name, std::string_view value) {
    const size_t at = bytes_.size();
    emplace_back(name, value);
    for (size_t i = at; i < at + name.size(); ++i)
      if (bytes_[i] >= 'A' && bytes_[i] <= 'Z') bytes_[i] = static_cast<char>(bytes_[i] + 32);
  }
  void push_back(const Field& f) { emplace_back(f.first, f.second); }

  // Room for `fields` fields of `bytes` bytes of names and values in all.
  void reserve(size_t fields, size_t bytes = 0) {
    entries_.reserve(fields);
    if (bytes) bytes_.reserve(bytes);
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() {
    entries_.clear();
    bytes_.clear();
  }
  Field at(size_t i) const {
    const Entry& e = entries_[i];
    const std::string_view b(bytes_);
    return {b.substr(e.name_at, e.name_size), b.substr(e.value_at, e.value_size)};
  }
  Field operator[](size_t i) const { return at(i); }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, entries_.size()}; }

  // Drops the fields `drop(field)` is true for; the others keep their order. Returns how
  // many were dropped.
  template <class Pred>
  size_t erase_if(Pred drop) {
    size_t kept = 0;
    for (size_t i = 0; i < entries_.size(); ++i)
      if (!drop(at(i))) entries_[kept++] = entries_[i];
    const size_t dropped = entries_.size() - kept;
    entries_.resize(kept);
    return dropped;
  }

  bool operator==(const HeaderList& o) const {
    if (size() != o.size()) return false;
    for (size_t i = 0; i < size(); ++i)
      if (at(i) != o.at(i)) return false;
    return true;
  }

 private:
  struct Entry {
    uint32_t name_at, name_size, value_at, value_size;
  };
  uint32_t offset() const { return static_cast<uint32_t>(bytes_.size()); }

  std::string bytes_;  // names and values back to back
  std::vector<Entry> entries_;
};

template <class Pred>
size_t erase_if(HeaderList& list, Pred drop) {
  return list.erase_if(std::move(drop));
}

// The first value of header `name` (compared exactly), empty when absent.
inline std::string_view find_header(const HeaderList& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

}  // namespace ptp
