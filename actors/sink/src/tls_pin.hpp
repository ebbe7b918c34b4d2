// SPDX-License-Identifier: Apache-2.0
// tls_pin.hpp — certificate pinning for the remote sinks: the SHA-256 of the server's leaf
// certificate (DER) must equal `pin_sha256` (hex, colons and case ignored, as
// `openssl x509 -noout -fingerprint -sha256` prints it), on top of the chain's verification.
#pragma once

#include <cctype>
#include <stdexcept>
#include <string>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace pg::actors::sink {

/// "AB:CD:..." or "abcd..." as 64 lowercase hex digits ("" when it is not a SHA-256).
inline std::string normalize_pin(const std::string& pin) {
  std::string out;
  for (char c : pin)
    if (std::isxdigit(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (c != ':')
      return {};
  return out.size() == 64 ? out : std::string();
}

/// `pin_sha256` from a sink's settings, normalized; throws std::invalid_argument when it is not
/// a SHA-256 or cannot apply (`applies` false: `why_not` says what it needs).
inline std::string read_pin(const std::string& pin, bool applies, const std::string& why_not) {
  if (pin.empty())
    return {};
  auto p = normalize_pin(pin);
  if (p.empty())
    throw std::invalid_argument("pin_sha256 must be a SHA-256 in hex (64 digits, colons "
                                "allowed), not '" +
                                pin + "'");
  if (!applies)
    throw std::invalid_argument("pin_sha256 needs " + why_not);
  return p;
}

inline std::string cert_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1)
    return {};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

/// Makes every handshake on `ctx` verify the chain as usual and then the leaf's pin. `pin` must
/// outlive the context (the sink's settings do). A mismatch fails verification with
/// X509_V_ERR_CERT_REJECTED.
inline void install_pin(SSL_CTX* ctx, const std::string* pin) {
  SSL_CTX_set_cert_verify_callback(
      ctx,
      [](X509_STORE_CTX* store, void* arg) -> int {
        const auto* want = static_cast<const std::string*>(arg);
        if (X509_verify_cert(store) != 1)
          return 0;
        if (cert_sha256(X509_STORE_CTX_get0_cert(store)) != *want) {
          X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
          return 0;
        }
        return 1;
      },
      const_cast<std::string*>(pin));
}

} // namespace pg::actors::sink
