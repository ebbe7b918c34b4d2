// digest.hpp — SHA-256 as lowercase hex (OpenSSL): plugin pins and key ids, fim's small hashes,
// the config hash the status API reports. Streaming digests of large files stay with their
// readers (fim, yara).
#pragma once

#include <string>
#include <string_view>

namespace pg::runtime {

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

} // namespace pg::runtime
