// One pass over a header field's bytes for what validate_request refuses in its text:
// control characters (below 0x20, a tab too, and DEL; codecs/control_chars.h) and bytes that
// are not well-formed UTF-8 (codecs/utf8.h). This runs on every field of every request at
// every hop: printable ASCII, nearly all of them, is skipped eight bytes at a time.
#pragma once

#include <string_view>

namespace ptp {

enum class TextFault { kNone, kControlChar, kNotUtf8 };

// A control character anywhere is reported before malformed UTF-8 anywhere (so a field
// with both is refused for its control character, wherever each is).
TextFault field_text_fault(std::string_view v);

}  // namespace ptp
