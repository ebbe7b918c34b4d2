// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/digest.hpp"

#include <new>

#include <openssl/evp.h>

namespace pg::runtime {

std::string hex_of(const unsigned char* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return hex_of(md, len);
}

struct digest_stream::impl {
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  ~impl() { EVP_MD_CTX_free(ctx); }
};

digest_stream::digest_stream(algorithm a) : impl_(std::make_unique<impl>()) {
  impl_->md = a == algorithm::md5 ? EVP_md5() : EVP_sha256();
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr) != 1)
    throw std::bad_alloc();
}

digest_stream::~digest_stream() = default;
digest_stream::digest_stream(digest_stream&&) noexcept = default;
digest_stream& digest_stream::operator=(digest_stream&&) noexcept = default;

void digest_stream::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
}

std::string digest_stream::finish_raw() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out, &len);
  EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string digest_stream::finish_hex() {
  auto raw = finish_raw();
  return hex_of(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

} // namespace pg::runtime
