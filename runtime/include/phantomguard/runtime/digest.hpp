// SPDX-License-Identifier: Apache-2.0
// digest.hpp — message digests as lowercase hex (OpenSSL): SHA-256 for plugin pins and key ids,
// fim's hashes, the config hash the status API reports, yara's rule-set key and downloaded
// advisory archives; MD5 where a format fixes it (dpkg's md5sums, an HTTP server's Content-MD5).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace pg::runtime {

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

/// Lowercase hex of raw bytes.
std::string hex_of(const unsigned char* bytes, std::size_t size);

/// A digest fed piece by piece (files read in blocks, downloads as they arrive, a database's rows).
class digest_stream {
public:
  enum class algorithm { sha256, md5 };

  explicit digest_stream(algorithm a = algorithm::sha256);
  ~digest_stream();
  digest_stream(digest_stream&&) noexcept;
  digest_stream& operator=(digest_stream&&) noexcept;

  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }

  /// Ends the digest: its raw bytes (32 for SHA-256, 16 for MD5). The stream restarts empty.
  std::string finish_raw();
  /// Ends the digest as lowercase hex. The stream restarts empty.
  std::string finish_hex();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace pg::runtime
