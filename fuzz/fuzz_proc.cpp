// SPDX-License-Identifier: Apache-2.0
// The /proc readers on what a hostile process can put there (its comm, its cmdline, its maps
// names) and on truncated or garbled files: stat, status, maps, the socket tables, the host's
// CPU and memory lines.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "phantomguard/actors/host/proc_maps.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/host/socket_table.hpp"
#include "phantomguard/runtime/alert.hpp"

using namespace pg::actors::host;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_proc_stat(text);
  auto st = parse_proc_status(text);
  (void)status_number(st, "PPid");
  (void)parse_proc_maps(text);
  (void)split_nul(text);
  for (auto p : {socket_proto::tcp, socket_proto::tcp6, socket_proto::udp, socket_proto::udp6,
                 socket_proto::unix_stream, socket_proto::packet})
    (void)parse_socket_table(p, text);
  (void)pg::runtime::parse_cpu_times(std::string(text));
  (void)pg::runtime::parse_memory_percent(std::string(text));
  return 0;
}
