// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/kernel_sensor.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/host/privilege.hpp"

#if PG_HAVE_KERNEL_SENSOR
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sensor_events.h"

// The BPF object, assembled into the binary by kernel_sensor_object.S.
extern "C" const unsigned char pg_sensor_bpf_start[];
extern "C" const unsigned char pg_sensor_bpf_end[];
#endif

namespace pg::actors::realtime {

namespace {

constexpr const char* kind_names[kernel_kind_count] = {
    "",       "exec",   "exit",   "fork",     "connect", "accept",      "bind",
    "listen", "ptrace", "vm_write", "memfd", "mem_exec", "module_load", "module_unload",
    "bpf_load", "cred", "socket_dup", "open_write"};

} // namespace

std::string_view kernel_kind_name(std::size_t kind) noexcept {
  return kind < kernel_kind_count ? kind_names[kind] : std::string_view{};
}

std::vector<kernel_kind> kernel_kinds_named(std::string_view name) {
  if (name == "module")
    return {kernel_kind::module_load, kernel_kind::module_unload};
  for (std::size_t i = 1; i < kernel_kind_count; ++i)
    if (name == kind_names[i])
      return {static_cast<kernel_kind>(i)};
  return {};
}

#if PG_HAVE_KERNEL_SENSOR

static_assert(PG_EV_KIND_COUNT == kernel_kind_count, "kernel_kind and sensor_events.h disagree");
static_assert(static_cast<int>(kernel_kind::open_write) == PG_EV_OPEN_WRITE);
static_assert(static_cast<int>(kernel_kind::cred) == PG_EV_CRED);

namespace {

// What libbpf says while a sensor opens: kept for the error, not printed to stderr.
std::mutex log_mutex;
std::string* log_sink = nullptr;

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG)
    return 0;
  char line[512];
  int n = std::vsnprintf(line, sizeof line, fmt, args);
  if (log_sink && n > 0) {
    log_sink->append(line);
    if (log_sink->size() > 8192)
      log_sink->erase(0, log_sink->size() - 8192);
  }
  return 0;
}

struct program_hook {
  const char* program;
  kernel_kind kind;
  const char* tracepoint; // syscalls/<name> the program needs; nullptr for raw tracepoints
  kernel_kind also = kernel_kind{}; // a second kind the program serves
};

constexpr program_hook hooks[] = {
    // The exec hook also judges the credentials an exec brought (cred).
    {"pg_exec", kernel_kind::exec, nullptr, kernel_kind::cred},
    {"pg_fork", kernel_kind::fork, nullptr},
    {"pg_exit", kernel_kind::exit, nullptr},
    {"pg_connect", kernel_kind::connect, "sys_enter_connect"},
    {"pg_bind", kernel_kind::bind, "sys_enter_bind"},
    {"pg_listen", kernel_kind::listen, "sys_enter_listen"},
    {"pg_accept4_enter", kernel_kind::accept, "sys_enter_accept4"},
    {"pg_accept4_exit", kernel_kind::accept, "sys_exit_accept4"},
    {"pg_accept_enter", kernel_kind::accept, "sys_enter_accept"},
    {"pg_accept_exit", kernel_kind::accept, "sys_exit_accept"},
    {"pg_dup2", kernel_kind::socket_dup, "sys_enter_dup2"},
    {"pg_dup3", kernel_kind::socket_dup, "sys_enter_dup3"},
    {"pg_ptrace", kernel_kind::ptrace, "sys_enter_ptrace"},
    {"pg_vm_writev", kernel_kind::vm_write, "sys_enter_process_vm_writev"},
    {"pg_memfd", kernel_kind::memfd, "sys_enter_memfd_create"},
    {"pg_mmap", kernel_kind::mem_exec, "sys_enter_mmap"},
    {"pg_mprotect", kernel_kind::mem_exec, "sys_enter_mprotect"},
    {"pg_init_module", kernel_kind::module_load, "sys_enter_init_module"},
    {"pg_finit_module", kernel_kind::module_load, "sys_enter_finit_module"},
    {"pg_delete_module", kernel_kind::module_unload, "sys_enter_delete_module"},
    {"pg_bpf", kernel_kind::bpf_load, "sys_enter_bpf"},
    {"pg_execve_enter", kernel_kind::cred, "sys_enter_execve"},
    {"pg_execveat_enter", kernel_kind::cred, "sys_enter_execveat"},
    {"pg_setuid_enter", kernel_kind::cred, "sys_enter_setuid"},
    {"pg_setuid_exit", kernel_kind::cred, "sys_exit_setuid"},
    {"pg_setreuid_enter", kernel_kind::cred, "sys_enter_setreuid"},
    {"pg_setreuid_exit", kernel_kind::cred, "sys_exit_setreuid"},
    {"pg_setresuid_enter", kernel_kind::cred, "sys_enter_setresuid"},
    {"pg_setresuid_exit", kernel_kind::cred, "sys_exit_setresuid"},
    {"pg_capset_enter", kernel_kind::cred, "sys_enter_capset"},
    {"pg_capset_exit", kernel_kind::cred, "sys_exit_capset"},
    {"pg_openat", kernel_kind::open_write, "sys_enter_openat"},
};

constexpr const char* tracefs_root = "/sys/kernel/tracing";

bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// Syscall tracepoints need tracefs (libbpf reads the tracepoint's id there). Mounted when
// missing, as root may; false when it is not there and cannot be.
bool ensure_tracefs() {
  if (path_exists(std::string(tracefs_root) + "/events"))
    return true;
  if (path_exists("/sys/kernel/debug/tracing/events"))
    return true;
  ::mount("nodev", tracefs_root, "tracefs", 0, nullptr);
  return path_exists(std::string(tracefs_root) + "/events");
}

bool tracepoint_exists(const char* name) {
  for (const char* root : {"/sys/kernel/tracing/events/syscalls/",
                           "/sys/kernel/debug/tracing/events/syscalls/"})
    if (path_exists(std::string(root) + name))
      return true;
  return false;
}

std::size_t round_ring(std::size_t bytes) {
  auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t r = page;
  while (r < bytes && r < (std::size_t{1} << 30))
    r <<= 1;
  return r;
}

kernel_counts read_percpu(int map_fd) {
  kernel_counts out{};
  int cpus = libbpf_num_possible_cpus();
  if (map_fd < 0 || cpus <= 0)
    return out;
  std::vector<std::uint64_t> values(static_cast<std::size_t>(cpus));
  for (std::uint32_t k = 0; k < kernel_kind_count; ++k) {
    if (bpf_map_lookup_elem(map_fd, &k, values.data()) != 0)
      continue;
    for (auto v : values)
      out[k] += v;
  }
  return out;
}

} // namespace

namespace {
// Where ring_buffer__poll hands each record: the callback of the poll() call under way.
struct consume_target {
  kernel_sensor::record_fn fn = nullptr;
  void* user = nullptr;
};
int on_record(void* ctx, void* data, size_t size) {
  auto* t = static_cast<consume_target*>(ctx);
  if (t->fn)
    t->fn(t->user, data, size);
  return 0;
}
} // namespace

struct kernel_sensor::state {
  consume_target target;
  bpf_object* object = nullptr;
  ring_buffer* ring = nullptr;
  int drops_fd = -1;
  int sampled_fd = -1;
  ~state() {
    if (ring)
      ring_buffer__free(ring);
    if (object)
      bpf_object__close(object);
  }
};

bool kernel_sensor::built() noexcept {
  return true;
}

std::unique_ptr<kernel_sensor> kernel_sensor::open(const kernel_sensor_options& options,
                                                   std::string* why_not, std::string* missing) {
  auto fail = [&](std::string what, std::string reason) -> std::unique_ptr<kernel_sensor> {
    if (missing)
      *missing = std::move(what);
    if (why_not)
      *why_not = std::move(reason);
    return nullptr;
  };
  constexpr int cap_sys_admin = 21, cap_perfmon = 38, cap_bpf = 39;
  if (!host::has_capability(cap_sys_admin) &&
      !(host::has_capability(cap_bpf) && host::has_capability(cap_perfmon)))
    return fail("CAP_BPF", "loading BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)");
  if (!path_exists("/sys/kernel/btf/vmlinux"))
    return fail("BTF", "the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE cannot relocate");
  bool have_tracefs = ensure_tracefs();

  std::string log;
  std::lock_guard log_lock(log_mutex); // libbpf's print hook is process-wide
  log_sink = &log;
  auto previous = libbpf_set_print(libbpf_log);
  struct restore_print {
    libbpf_print_fn_t fn;
    ~restore_print() {
      libbpf_set_print(fn);
      log_sink = nullptr;
    }
  } restore{previous};

  auto sensor = std::unique_ptr<kernel_sensor>(new kernel_sensor());
  sensor->state_ = std::make_unique<state>();
  auto& st = *sensor->state_;
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = "phantomguard_sensor");
  st.object = bpf_object__open_mem(pg_sensor_bpf_start,
                                   static_cast<std::size_t>(pg_sensor_bpf_end - pg_sensor_bpf_start),
                                   &open_opts);
  if (!st.object)
    return fail("the BPF object", "the embedded BPF object does not open: " + log);

  sensor->ring_size_ = round_ring(options.ring_size);
  if (auto* rb = bpf_object__find_map_by_name(st.object, "pg_events"))
    bpf_map__set_max_entries(rb, static_cast<std::uint32_t>(sensor->ring_size_));

  // Only what is asked for and what this kernel has is loaded: a kind left out costs nothing.
  std::vector<std::pair<bpf_program*, const program_hook*>> wanted;
  bool any_tracefs_missing = false;
  for (const auto& hook : hooks) {
    auto* prog = bpf_object__find_program_by_name(st.object, hook.program);
    if (!prog)
      continue;
    bool on = ((options.kinds >> static_cast<unsigned>(hook.kind)) & 1u) ||
              (hook.also != kernel_kind{} && ((options.kinds >> static_cast<unsigned>(hook.also)) & 1u));
    if (on && hook.tracepoint && !have_tracefs) {
      on = false;
      any_tracefs_missing = true;
    } else if (on && hook.tracepoint && !tracepoint_exists(hook.tracepoint)) {
      on = false;
      std::string why = std::string(kernel_kind_name(static_cast<std::size_t>(hook.kind))) +
                        ": no syscalls/" + hook.tracepoint + " tracepoint";
      if (hook.kind == kernel_kind::module_load || hook.kind == kernel_kind::module_unload)
        why += " (a kernel without module support)";
      if (std::find(sensor->unavailable_.begin(), sensor->unavailable_.end(), why) ==
          sensor->unavailable_.end())
        sensor->unavailable_.push_back(std::move(why));
    }
    bpf_program__set_autoload(prog, on);
    if (on)
      wanted.emplace_back(prog, &hook);
  }
  if (any_tracefs_missing)
    sensor->unavailable_.push_back(
        "syscall events: tracefs is not mounted at /sys/kernel/tracing and cannot be");
  if (wanted.empty())
    return fail(any_tracefs_missing ? "tracefs" : "kinds",
                "no kernel event kind is both enabled and available on this kernel");

  if (int err = bpf_object__load(st.object); err != 0)
    return fail("the kernel refused the program",
                std::string("the kernel refused the BPF programs (") + std::strerror(-err) +
                    "): " + log.substr(log.size() > 600 ? log.size() - 600 : 0));

  // The configuration the programs read on every event.
  pg_config cfg{};
  cfg.self_tgid = options.self_tgid;
  cfg.kinds = options.kinds;
  cfg.wakeup_bytes = static_cast<std::uint32_t>(sensor->ring_size_ / 8);
  for (std::size_t i = 0; i < PG_MAX_SAMPLE_KINDS && i < options.sample.size(); ++i)
    cfg.sample[i] = options.sample[i];
  auto map_fd = [&](const char* name) {
    auto* m = bpf_object__find_map_by_name(st.object, name);
    return m ? bpf_map__fd(m) : -1;
  };
  std::uint8_t one = 1;
  for (auto uid : options.ignore_uids)
    if (bpf_map_update_elem(map_fd("pg_ignore_uid"), &uid, &one, BPF_ANY) == 0)
      cfg.filter_uids = 1;
  for (const auto& comm : options.ignore_comms) {
    char key[PG_COMM_LEN] = {};
    std::memcpy(key, comm.data(), std::min(comm.size(), sizeof key - 1));
    if (bpf_map_update_elem(map_fd("pg_ignore_comm"), key, &one, BPF_ANY) == 0)
      cfg.filter_comms = 1;
  }
  for (auto cg : options.ignore_cgroups)
    if (bpf_map_update_elem(map_fd("pg_ignore_cgroup"), &cg, &one, BPF_ANY) == 0)
      cfg.filter_cgroups = 1;
  std::uint32_t zero = 0;
  if (bpf_map_update_elem(map_fd("pg_config"), &zero, &cfg, BPF_ANY) != 0)
    return fail("the kernel refused the program",
                std::string("cannot write the sensor's configuration: ") + std::strerror(errno));
  st.drops_fd = map_fd("pg_drops");
  st.sampled_fd = map_fd("pg_sampled_out");

  for (auto [prog, hook] : wanted) {
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err = errno;
      std::string why = std::string(kernel_kind_name(static_cast<std::size_t>(hook->kind))) +
                        ": " + hook->program + " does not attach (" + std::strerror(err) + ")";
      sensor->unavailable_.push_back(std::move(why));
      continue;
    }
    sensor->links_.push_back(link);
  }
  if (sensor->links_.empty())
    return fail("the kernel refused the program", "no sensor program attaches: " + log);

  st.ring = ring_buffer__new(map_fd("pg_events"), on_record, &st.target, nullptr);
  if (!st.ring)
    return fail("the kernel refused the program",
                std::string("the ring buffer does not map: ") + std::strerror(errno));
  return sensor;
}

kernel_sensor::~kernel_sensor() {
  // Detaching a tracepoint program waits for an RCU grace period (tens of ms here): one after the
  // other, 28 of them kept `scan` waiting two seconds. Detached side by side, the waits overlap.
  std::vector<std::thread> detach;
  detach.reserve(links_.size());
  for (auto* l : links_)
    detach.emplace_back([l] { bpf_link__destroy(static_cast<bpf_link*>(l)); });
  for (auto& t : detach)
    t.join();
}

int kernel_sensor::fd() const noexcept {
  return state_ && state_->ring ? ring_buffer__epoll_fd(state_->ring) : -1;
}

int kernel_sensor::consume(record_fn fn, void* user) {
  if (!state_ || !state_->ring)
    return -EINVAL;
  state_->target = {fn, user};
  return ring_buffer__consume(state_->ring); // reads what waits, woken or not
}

int kernel_sensor::poll(int timeout_ms, record_fn fn, void* user) {
  if (!state_ || !state_->ring)
    return -EINVAL;
  state_->target = {fn, user};
  return ring_buffer__poll(state_->ring, timeout_ms);
}

kernel_counts kernel_sensor::drops() const {
  return state_ ? read_percpu(state_->drops_fd) : kernel_counts{};
}

kernel_counts kernel_sensor::sampled_out() const {
  return state_ ? read_percpu(state_->sampled_fd) : kernel_counts{};
}

#else // built without the kernel sensor

struct kernel_sensor::state {};

bool kernel_sensor::built() noexcept {
  return false;
}

std::unique_ptr<kernel_sensor> kernel_sensor::open(const kernel_sensor_options&,
                                                   std::string* why_not, std::string* missing) {
  if (missing)
    *missing = "the BPF object";
  if (why_not)
    *why_not = "this build has no kernel sensor (clang or libbpf were missing when it was built)";
  return nullptr;
}

kernel_sensor::~kernel_sensor() = default;
int kernel_sensor::fd() const noexcept {
  return -1;
}
int kernel_sensor::consume(record_fn, void*) {
  return -ENOSYS;
}
int kernel_sensor::poll(int, record_fn, void*) {
  return -ENOSYS;
}
kernel_counts kernel_sensor::drops() const {
  return {};
}
kernel_counts kernel_sensor::sampled_out() const {
  return {};
}

#endif

} // namespace pg::actors::realtime
