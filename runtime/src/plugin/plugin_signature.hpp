// SPDX-License-Identifier: Apache-2.0
// plugin_signature.hpp — ed25519 detached signatures over plugin files (OpenSSL EVP).
//
// A signature is `NAME.so.sig` beside the plugin, a small text file:
//     phantomguard-signature-v1
//     key-id: 3f2a9c0d4e5b6a71
//     signature: <base64 of the 64-byte ed25519 signature over the whole .so>
// The signed message is the file's bytes as they are (pure ed25519), so `openssl pkeyutl -sign
// -rawin` makes the same signature (the SDK's phantomguard-sign-plugin script does exactly that).
// A key id is the first 16 hex digits of the SHA-256 of the 32-byte raw public key. Trusted
// public keys are the `*.pub` PEM files of engine.plugin_trust_dir.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/digest.hpp"

namespace pg::runtime::detail {

using runtime::sha256_hex; // plugin pins and key ids

/// A parsed .sig file.
struct plugin_signature {
  std::string key_id;
  std::string signature; // 64 raw bytes
};

/// Parses the text of a .sig file; nullopt with `*error` saying what is wrong.
std::optional<plugin_signature> parse_signature(std::string_view text, std::string* error);
/// The text of a .sig file.
std::string format_signature(const plugin_signature& sig);

/// A trusted public key from the trust directory.
struct trusted_key {
  std::string key_id;
  std::string raw; // the 32-byte public key
  std::string path;
};

/// Every `*.pub` of `dir` (sorted by file name). A file that is not an ed25519 public key is an
/// error, not skipped: a trust directory should hold nothing the operator did not mean.
std::optional<std::vector<trusted_key>> load_trusted_keys(const std::string& dir,
                                                          std::string* error);

/// True when `sig` is a valid signature of `message` by `key`.
bool verify_signature(std::string_view message, const plugin_signature& sig,
                      const trusted_key& key);

/// Writes a new key pair: `private_path` (PEM PKCS#8, mode 0600, never overwritten) and
/// `public_path` (PEM SubjectPublicKeyInfo, 0644). Returns the key id.
std::optional<std::string> generate_key_pair(const std::string& private_path,
                                             const std::string& public_path, std::string* error);

/// Signs `message` with the ed25519 private key in `private_path` (PEM).
std::optional<plugin_signature> sign_message(std::string_view message,
                                             const std::string& private_path, std::string* error);

/// The key id of a PEM public key file.
std::optional<std::string> public_key_id(const std::string& public_path, std::string* error);

} // namespace pg::runtime::detail
