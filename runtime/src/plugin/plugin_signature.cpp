// SPDX-License-Identifier: Apache-2.0
// plugin_signature.cpp — see plugin_signature.hpp.
#include "plugin/plugin_signature.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "phantomguard/runtime/unique_fd.hpp"

namespace pg::runtime::detail {
namespace {

constexpr std::string_view magic = "phantomguard-signature-v1";
constexpr std::size_t ed25519_key_bytes = 32;
constexpr std::size_t ed25519_sig_bytes = 64;

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

bool fail(std::string* error, std::string text) {
  if (error)
    *error = std::move(text);
  return false;
}

std::string key_id_of_raw(std::string_view raw) {
  return sha256_hex(raw).substr(0, 16);
}

std::optional<std::string> raw_public(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
    return std::nullopt;
  std::string raw(ed25519_key_bytes, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != ed25519_key_bytes)
    return std::nullopt;
  return raw;
}

std::optional<std::string> read_small_file(const std::string& path, std::size_t cap,
                                           std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail(error, "cannot read " + path + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string text(cap + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > cap) {
    fail(error, path + " is larger than " + std::to_string(cap) + " bytes");
    return std::nullopt;
  }
  return text;
}

pkey_ptr read_pem(const std::string& path, bool is_private, std::string* error) {
  pkey_ptr none(nullptr, &EVP_PKEY_free);
  auto text = read_small_file(path, 16 * 1024, error);
  if (!text)
    return none;
  bio_ptr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())), &BIO_free);
  if (!bio) {
    fail(error, "out of memory");
    return none;
  }
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (k == nullptr) {
    fail(error, path + " is not a PEM " +
                    std::string(is_private ? "private key (PKCS#8)" : "public key") +
                    " (make one with `phantomguard plugins keygen`)");
    return none;
  }
  pkey_ptr key(k, &EVP_PKEY_free);
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
    fail(error, path + " holds a key of another type; plugin signatures use ed25519");
    return none;
  }
  return key;
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()),
                                static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 ||
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
          std::string_view::npos)
    return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0)
    return std::nullopt;
  std::size_t pad = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it)
    ++pad;
  out.resize(static_cast<std::size_t>(n) - std::min<std::size_t>(pad, 2));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  return s;
}

} // namespace

std::optional<plugin_signature> parse_signature(std::string_view text, std::string* error) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(trim(text.substr(0, nl)));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  while (!lines.empty() && lines.back().empty())
    lines.pop_back();
  if (lines.size() != 3 || lines[0] != magic) {
    fail(error, "not a PhantomGuard signature (expected 3 lines starting with \"" +
                    std::string(magic) + "\")");
    return std::nullopt;
  }
  plugin_signature sig;
  auto field = [&](std::string_view line, std::string_view name) -> std::optional<std::string> {
    if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ':')
      return std::nullopt;
    return std::string(trim(line.substr(name.size() + 1)));
  };
  auto id = field(lines[1], "key-id");
  if (!id || id->size() != 16 || id->find_first_not_of("0123456789abcdef") != std::string::npos) {
    fail(error, "malformed key-id line (expected 16 lowercase hex digits)");
    return std::nullopt;
  }
  auto b64 = field(lines[2], "signature");
  std::optional<std::string> raw = b64 ? unbase64(*b64) : std::nullopt;
  if (!raw || raw->size() != ed25519_sig_bytes) {
    fail(error, "malformed signature line (expected the base64 of 64 bytes)");
    return std::nullopt;
  }
  sig.key_id = *id;
  sig.signature = std::move(*raw);
  return sig;
}

std::string format_signature(const plugin_signature& sig) {
  return std::string(magic) + "\nkey-id: " + sig.key_id + "\nsignature: " + base64(sig.signature) +
         "\n";
}

std::optional<std::vector<trusted_key>> load_trusted_keys(const std::string& dir,
                                                          std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<trusted_key> keys;
  if (!fs::is_directory(dir, ec)) {
    fail(error, "the trust directory " + dir + " does not exist");
    return std::nullopt;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".pub")
      files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto key = read_pem(f.string(), false, error);
    if (!key)
      return std::nullopt;
    auto raw = raw_public(key.get());
    if (!raw) {
      fail(error, f.string() + " is not an ed25519 public key");
      return std::nullopt;
    }
    keys.push_back(trusted_key{key_id_of_raw(*raw), std::move(*raw), f.string()});
  }
  return keys;
}

bool verify_signature(std::string_view message, const plugin_signature& sig,
                      const trusted_key& key) {
  EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(key.raw.data()),
                                            key.raw.size());
  if (k == nullptr)
    return false;
  pkey_ptr owner(k, &EVP_PKEY_free);
  md_ctx_ptr md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, k) != 1)
    return false;
  return EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.signature.data()),
                          sig.signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::optional<std::string> generate_key_pair(const std::string& private_path,
                                             const std::string& public_path, std::string* error) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* k = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &k) != 1) {
    fail(error, "ed25519 key generation failed");
    return std::nullopt;
  }
  pkey_ptr key(k, &EVP_PKEY_free);
  auto pem = [&](bool is_private) -> std::string {
    bio_ptr bio(BIO_new(BIO_s_mem()), &BIO_free);
    const int ok =
        is_private ? PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr)
                   : PEM_write_bio_PUBKEY(bio.get(), k);
    char* data = nullptr;
    const long n = ok == 1 ? BIO_get_mem_data(bio.get(), &data) : 0;
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
  };
  const std::string priv = pem(true), pub = pem(false);
  if (priv.empty() || pub.empty()) {
    fail(error, "cannot encode the key pair as PEM");
    return std::nullopt;
  }
  auto write_new = [&](const std::string& path, const std::string& text, mode_t mode) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd)
      return fail(error, "cannot create " + path + ": " + std::strerror(errno) +
                             (errno == EEXIST ? " (a key is never overwritten: choose another name "
                                                "or remove the old one)"
                                              : ""));
    if (::fchmod(fd.get(), mode) != 0 ||
        ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(fd.get()) != 0)
      return fail(error, "cannot write " + path + ": " + std::strerror(errno));
    return true;
  };
  if (!write_new(private_path, priv, 0600))
    return std::nullopt;
  if (!write_new(public_path, pub, 0644)) {
    ::unlink(private_path.c_str());
    return std::nullopt;
  }
  auto raw = raw_public(k);
  return key_id_of_raw(*raw);
}

std::optional<plugin_signature> sign_message(std::string_view message,
                                             const std::string& private_path, std::string* error) {
  auto key = read_pem(private_path, true, error);
  if (!key)
    return std::nullopt;
  md_ctx_ptr md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  plugin_signature sig;
  sig.signature.assign(ed25519_sig_bytes, '\0');
  std::size_t len = sig.signature.size();
  if (!md || EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != ed25519_sig_bytes) {
    fail(error, "signing with " + private_path + " failed");
    return std::nullopt;
  }
  sig.key_id = key_id_of_raw(*raw_public(key.get()));
  return sig;
}

std::optional<std::string> public_key_id(const std::string& public_path, std::string* error) {
  auto key = read_pem(public_path, false, error);
  if (!key)
    return std::nullopt;
  return key_id_of_raw(*raw_public(key.get()));
}

} // namespace pg::runtime::detail
