// SPDX-License-Identifier: Apache-2.0
// plugins_command.cpp — `phantomguard plugins list|info|check`. Nothing here runs plugin code:
// manifests come from the ELF note and checks are the loader's pre-dlopen checks.
#include "plugin/plugins_command.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/plugin_loader.hpp"
#include "plugin/plugin_signature.hpp"

namespace pg::runtime::detail {
namespace {

constexpr const char* usage =
    "usage: phantomguard plugins list [--plugin-dir DIR]\n"
    "       phantomguard plugins info PATH|ID [--plugin-dir DIR] [--trust-dir DIR]\n"
    "       phantomguard plugins check PATH|ID [--plugin-dir DIR] [--version REQ] [--sha256 HEX]\n"
    "                                          [--detector NAME] [--trust-dir DIR]\n"
    "                                          [--signature off|if_present|required]\n"
    "       phantomguard plugins keygen [--out PREFIX]   writes PREFIX.key and PREFIX.pub\n"
    "       phantomguard plugins sign --key KEY FILE     writes FILE.sig\n"
    "       phantomguard plugins verify FILE [--trust-dir DIR]\n";

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "-" : out;
}

std::string abi_text(const plugin_manifest& m) {
  return std::to_string(m.abi_major) + "." + std::to_string(m.abi_minor);
}

void print_manifest(const plugin_manifest& m, const std::string& path) {
  std::cout << "id:          " << m.id << "\n"
            << "version:     " << m.version.to_string() << "\n"
            << "vendor:      " << m.vendor << "\n"
            << "license:     " << (m.license.empty() ? "-" : m.license) << "\n"
            << "description: " << (m.description.empty() ? "-" : m.description) << "\n"
            << "abi:         " << abi_text(m) << " required (engine speaks " << host_abi_version()
            << ")\n"
            << "file:        " << path << "\n";
  for (const auto& d : m.detectors) {
    std::cout << "detector " << d.name << (d.description.empty() ? "" : ": " + d.description)
              << "\n"
              << "  subscribes:   " << (d.subscribes.empty() ? "every kind" : join(d.subscribes))
              << "\n"
              << "  capabilities: " << join(d.capabilities) << "\n";
    if (d.config.empty())
      std::cout << "  config:       -\n";
    else
      std::cout << "  config:\n";
    for (const auto& k : d.config) {
      std::cout << "    " << k.key << " (" << to_string(k.type);
      if (!k.default_value.is_null())
        std::cout << ", default " << k.default_value.dump();
      if (k.required)
        std::cout << ", required";
      std::cout << ")" << (k.description.empty() ? "" : ": " + k.description) << "\n";
    }
  }
}

std::string signature_line(const signature_status& sig) {
  using st = signature_status::state;
  switch (sig.status) {
  case st::valid:
    return "valid, " + sig.detail;
  case st::unsigned_file:
    return "unsigned (" + sig.detail + ")";
  case st::untrusted:
    return "signed by untrusted " + sig.detail;
  case st::invalid:
    return "INVALID: key " + sig.key_id + " made " + sig.detail;
  case st::malformed:
    return "unreadable signature: " + sig.detail;
  case st::no_trust:
    return "key " + sig.key_id + ", not verifiable: " + sig.detail;
  }
  return sig.detail;
}

struct parsed_args {
  std::string sub;
  std::string target;
  std::string key; // sign --key
  std::string out; // keygen --out
  plugin_request request;
  bool ok = true;
};

parsed_args parse(int argc, char** argv) {
  parsed_args a;
  a.request.plugin_dir = plugin_dir();
  const plugin_trust trust = current_plugin_trust();
  a.request.signature = trust.signature;
  a.request.trust_dir = trust.trust_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::cerr << "phantomguard plugins: " << arg << " needs a value\n";
        a.ok = false;
        return;
      }
      out = argv[++i];
    };
    if (arg == "--plugin-dir")
      value(a.request.plugin_dir);
    else if (arg == "--version")
      value(a.request.version);
    else if (arg == "--sha256")
      value(a.request.sha256);
    else if (arg == "--detector")
      value(a.request.detector);
    else if (arg == "--trust-dir")
      value(a.request.trust_dir);
    else if (arg == "--key")
      value(a.key);
    else if (arg == "--out")
      value(a.out);
    else if (arg == "--signature") {
      std::string text;
      value(text);
      if (auto p = parse_signature_policy(text))
        a.request.signature = *p;
      else if (a.ok) {
        std::cerr << "phantomguard plugins: --signature must be off, if_present or required, not "
                  << text << "\n";
        a.ok = false;
      }
    } else if (arg == "-h" || arg == "--help")
      a.sub = "help";
    else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "phantomguard plugins: unknown option " << arg << "\n";
      a.ok = false;
    } else if (a.sub.empty())
      a.sub = arg;
    else if (a.target.empty())
      a.target = arg;
    else {
      std::cerr << "phantomguard plugins: unexpected argument " << arg << "\n";
      a.ok = false;
    }
  }
  a.request.plugin = a.target;
  return a;
}

int list(const parsed_args& a) {
  const auto entries = list_plugins(a.request.plugin_dir);
  if (entries.empty()) {
    std::cout << "no plugins in " << a.request.plugin_dir << "\n";
    return 0;
  }
  for (const auto& e : entries) {
    if (!e.manifest) {
      std::cout << "?  " << e.path << "  (unreadable: " << e.error << ")\n";
      continue;
    }
    std::vector<std::string> dets;
    for (const auto& d : e.manifest->detectors)
      dets.push_back(d.name);
    std::cout << e.manifest->id << "  " << e.manifest->version.to_string() << "  abi "
              << abi_text(*e.manifest) << "  detectors: " << join(dets) << "  " << e.path << "\n";
  }
  return 0;
}

int info(const parsed_args& a) {
  // An id resolves through the same lookup the loader uses, a path is read directly.
  std::string path = a.target;
  if (a.target.find('/') == std::string::npos && !a.target.ends_with(".so")) {
    path.clear();
    std::optional<semver> best;
    for (const auto& e : list_plugins(a.request.plugin_dir))
      if (e.manifest && e.manifest->id == a.target && (!best || *best < e.manifest->version)) {
        best = e.manifest->version;
        path = e.path;
      }
    if (path.empty()) {
      std::cerr << "phantomguard plugins info: no plugin with id " << a.target << " in "
                << a.request.plugin_dir << " (set --plugin-dir, or give a path)\n";
      return 1;
    }
  }
  std::string error;
  auto m = read_plugin_manifest(path, &error);
  if (!m) {
    std::cerr << "phantomguard plugins info: " << path << ": " << error << "\n";
    return 1;
  }
  print_manifest(*m, path);
  std::string refusal;
  if (auto file = open_plugin_file(m->id, path, &refusal)) {
    const signature_status sig = check_plugin_signature(*file, a.request.trust_dir);
    std::cout << "signature:   " << signature_line(sig) << "\n";
  } else {
    std::cout << "signature:   not checked (" << refusal << ")\n";
  }
  return 0;
}

int check(const parsed_args& a) {
  const plugin_inspection r = inspect_plugin(a.request);
  for (const auto& c : r.checks)
    std::cout << (c.ok ? "ok    " : "FAIL  ") << c.name << ": " << c.detail << "\n";
  if (!r.ok()) {
    std::cout << "refused\n";
    return 1;
  }
  std::cout << "plugin " << r.manifest->id << " " << r.manifest->version.to_string()
            << " passes every load-time check"
            << (r.signer.empty() ? std::string(" (unsigned)") : " (signed by key " + r.signer + ")")
            << "\n";
  return 0;
}

int keygen(const parsed_args& a) {
  const std::string prefix = a.out.empty() ? "phantomguard-plugin" : a.out;
  std::string error;
  auto id = generate_key_pair(prefix + ".key", prefix + ".pub", &error);
  if (!id) {
    std::cerr << "phantomguard plugins keygen: " << error << "\n";
    return 1;
  }
  std::cout << "key id " << *id << "\n"
            << "private key " << prefix << ".key (keep it secret: it signs plugins)\n"
            << "public key  " << prefix << ".pub (copy it into engine.plugin_trust_dir, "
            << default_plugin_trust_dir << " by default, to trust what it signs)\n";
  return 0;
}

int sign(const parsed_args& a) {
  if (a.key.empty()) {
    std::cerr << "phantomguard plugins sign: --key KEY is required (make one with "
                 "`phantomguard plugins keygen`)\n";
    return 2;
  }
  std::string error;
  std::ifstream in(a.target, std::ios::binary);
  if (!in) {
    std::cerr << "phantomguard plugins sign: cannot read " << a.target << "\n";
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto sig = sign_message(bytes, a.key, &error);
  if (!sig) {
    std::cerr << "phantomguard plugins sign: " << error << "\n";
    return 1;
  }
  const std::string out = a.target + ".sig";
  const std::string tmp = out + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o << format_signature(*sig);
    if (!o.flush()) {
      std::cerr << "phantomguard plugins sign: cannot write " << tmp << "\n";
      return 1;
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::cerr << "phantomguard plugins sign: cannot write " << out << "\n";
    return 1;
  }
  std::cout << "signed " << a.target << " with key " << sig->key_id << " -> " << out << "\n";
  return 0;
}

int verify(const parsed_args& a) {
  std::string refusal;
  auto file = open_plugin_file(a.target, a.target, &refusal);
  if (!file) {
    std::cout << refusal << "\n";
    return 1;
  }
  const signature_status sig = check_plugin_signature(*file, a.request.trust_dir);
  std::cout << a.target << ": " << signature_line(sig) << "\n";
  return sig.status == signature_status::state::valid ? 0 : 1;
}

} // namespace

int run_plugins_command(int argc, char** argv) {
  parsed_args a = parse(argc, argv);
  if (!a.ok) {
    std::cerr << usage;
    return 2;
  }
  if (a.sub == "help") {
    std::cout << usage;
    return 0;
  }
  if (a.sub == "list" && a.target.empty())
    return list(a);
  if ((a.sub == "info" || a.sub == "check") && !a.target.empty())
    return a.sub == "info" ? info(a) : check(a);
  if (a.sub == "keygen" && a.target.empty())
    return keygen(a);
  if (a.sub == "sign" && !a.target.empty())
    return sign(a);
  if (a.sub == "verify" && !a.target.empty())
    return verify(a);
  std::cerr << usage;
  return 2;
}

} // namespace pg::runtime::detail
