// SPDX-License-Identifier: Apache-2.0
// pid_cross_view.hpp — the whole PID space seen two ways: what the kernel answers to system calls
// about a PID, and what the /proc listing shows. A rootkit that hides a process from /proc (a
// getdents hook, a libc readdir hook) rarely also hides it from kill(), getpgid(), getsid(),
// sched_getscheduler() and a stat() of /proc/PID by name; the difference is the hidden process.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pg::actors::rootkit {

/// Which probes answered for a PID (bit set = the PID exists according to that probe).
enum pid_probe : std::uint8_t {
  probe_kill = 1,       // kill(pid, 0) succeeded or failed with EPERM
  probe_getpgid = 2,    // getpgid(pid) >= 0
  probe_getsid = 4,     // getsid(pid) >= 0
  probe_sched = 8,      // sched_getscheduler(pid) >= 0
  probe_proc_stat = 16, // stat("/proc/PID") succeeded: reachable by name
};

/// Names of the probes set in `mask` ("kill", "getpgid", ...).
std::vector<std::string> probe_names(std::uint8_t mask);

/// Runs every probe on `pid` (no /proc listing involved).
std::uint8_t probe_pid(int pid, const std::string& proc_root = "/proc");

struct pid_anomaly {
  enum class kind {
    hidden, // answers probes, absent from the /proc listing, and not a thread
    ghost,  // listed in /proc but answers no probe
  };
  int pid = 0;
  kind what = kind::hidden;
  std::uint8_t probes = 0; // which probes answered (at the re-check)
  std::string comm;        // from /proc/PID/stat when readable
  std::string exe;         // readlink /proc/PID/exe when readable
};

/// A mount over a process's /proc entry (`mount --bind /empty /proc/PID`): ps and top skip the
/// process (its stat is gone or another's), yet it is in the listing and answers system calls, so
/// the listing-versus-probes view does not see it. mountinfo does.
struct proc_mask {
  int pid = 0;
  std::string mount_point; // /proc/PID or below it
  std::string root;        // what was mounted there (mountinfo's root field)
  std::string fs_type;
  std::string source;
};

/// The masks in a mountinfo text (/proc/self/mountinfo), for the procfs mounted at `proc_mount`.
std::vector<proc_mask> find_proc_masks(const std::string& mountinfo,
                                       const std::string& proc_mount = "/proc");

struct pid_scan_options {
  int pid_max = 0; // 0: read /proc/sys/kernel/pid_max
  std::string proc_root = "/proc";
  /// Where the listing is read; empty = proc_root. Tests point it at a copy of the listing with a
  /// PID removed, which is what a getdents-hooking rootkit makes /proc look like.
  std::string listing_root;
  bool recheck = true; // probe candidates again against a fresh listing before reporting
};

struct pid_scan_result {
  std::vector<pid_anomaly> anomalies;
  int pid_max = 0;
  std::size_t listed = 0;    // PIDs in the /proc listing
  std::size_t answering = 0; // PIDs that answered at least one probe
  std::size_t threads = 0;   // answering, unlisted, but a thread (Tgid != TID): not a finding
  std::size_t transient = 0; // candidates gone at the re-check (exited, started, PID reused)
  std::chrono::nanoseconds elapsed{};
};

/// Walks PIDs 1..pid_max. Never throws for vanished processes; the listing is read with
/// getdents64 so a readdir hook in this process does not blind it.
pid_scan_result scan_pid_space(const pid_scan_options& opts = {});

/// A process the raw /proc listing holds but a program's view of /proc leaves out: a readdir
/// hook (LD_PRELOAD, /etc/ld.so.preload, libprocesshider) at work. The raw walk and the system
/// call probes above cannot see such a hook, since neither goes through it; `ps`, `top` and
/// `unhide` do, which is how unhide finds it.
struct listing_gap {
  int pid = 0;
  bool missing_in_engine = false;  // libc's readdir in this process leaves it out (hook loaded here)
  bool missing_in_program = false; // the freshly started lister leaves it out (hook in programs)
  std::uint8_t probes = 0;
  std::string comm;
  std::string exe;
};

struct listing_gap_result {
  std::vector<listing_gap> gaps;
  bool program_ran = false;  // the lister ran and its output was read
  std::string program_error; // why not, when it did not
  std::size_t transient = 0; // gaps gone at the re-check (the process exited)
};

/// Compares the raw listing of `proc_root` with the one libc's readdir gives this process and
/// with what `lister` prints (run as `LISTER -1 -f PROC_ROOT` with a clean environment, as any
/// program is started: /etc/ld.so.preload applies to it; empty: not run). Gaps are re-checked
/// once against fresh listings.
listing_gap_result find_listing_gaps(const std::string& proc_root, const std::string& lister);

/// /proc/sys/kernel/pid_max (32768 when unreadable).
int read_pid_max(const std::string& proc_root = "/proc");

} // namespace pg::actors::rootkit
