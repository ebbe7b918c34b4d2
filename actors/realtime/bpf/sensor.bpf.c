// SPDX-License-Identifier: GPL-2.0-only
/* sensor.bpf.c — PhantomGuard's kernel sensor. Compiled by clang -target bpf at build time and
 * embedded in the binary; loaded by kernel_sensor.cpp with libbpf (CO-RE: the kernel structures
 * below are declared with only the fields we read, and libbpf relocates their offsets against the
 * running kernel's BTF).
 *
 * Hooks: raw tracepoints for the scheduler (exec, fork, exit: no tracefs needed), syscall
 * tracepoints for the acts (connect, accept, bind, listen, ptrace, process_vm_writev,
 * memfd_create, mmap, mprotect, dup2/dup3, init/finit/delete_module, bpf, openat, the set*uid
 * family and capset). No kprobes: the kernels we run on may have none, and tracepoints are the
 * stable interface. mprotect finds the vma with bpf_find_vma to tell anonymous or writable memory
 * from the loader's work.
 *
 * Every record that cannot be reserved in the ring buffer is counted per CPU and per kind in
 * pg_drops; user space reports those as lost events. Nothing is dropped silently. */

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sensor_events.h"

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

char LICENSE[] SEC("license") = "GPL";

/* ---- the kernel structures we read (CO-RE: names matter, offsets come from BTF) ---- */

typedef struct {
  unsigned int val;
} kuid_t;
typedef struct {
  unsigned int val;
} kgid_t;

typedef struct {
  unsigned long long val; /* 6.3 and later; before, two u32 words: the same 8 bytes */
} kernel_cap_t;

struct cred {
  kuid_t uid;
  kgid_t gid;
  kuid_t euid;
  kernel_cap_t cap_effective;
} __attribute__((preserve_access_index));

struct inode {
  unsigned short i_mode;
  unsigned long i_ino;
  unsigned int i_nlink;
} __attribute__((preserve_access_index));

struct file {
  struct inode *f_inode;
  void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
  unsigned int max_fds;
  struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
  struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct mm_struct {
  unsigned long arg_start;
  unsigned long arg_end;
  struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
  int pid;
  int tgid;
  int exit_code;
  unsigned long long start_boottime;
  struct task_struct *real_parent;
  const struct cred *cred;
  struct mm_struct *mm;
  struct files_struct *files;
} __attribute__((preserve_access_index));

struct linux_binprm {
  const char *filename;
} __attribute__((preserve_access_index));

struct in6_addr {
  unsigned char s6_addr[16];
} __attribute__((preserve_access_index));

struct sock_common {
  unsigned int skc_daddr;
  unsigned int skc_rcv_saddr;
  unsigned short skc_dport;
  unsigned short skc_num;
  unsigned short skc_family;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
  struct sock_common __sk_common;
  unsigned short sk_protocol;
} __attribute__((preserve_access_index));

struct socket {
  struct sock *sk;
} __attribute__((preserve_access_index));

struct vm_area_struct {
  unsigned long vm_start;
  unsigned long vm_end;
  unsigned long vm_flags;
  struct file *vm_file;
} __attribute__((preserve_access_index));

/* Syscall tracepoint contexts: 8 bytes of common fields, the syscall number, then the arguments
 * (enter) or the return value (exit), each 8 bytes. The same on every architecture. */
struct sys_enter_ctx {
  unsigned long long common;
  long nr;
  unsigned long args[6];
};
struct sys_exit_ctx {
  unsigned long long common;
  long nr;
  long ret;
};

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define VM_WRITE 0x2UL
#define VM_EXEC 0x4UL
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSER 6
#define PTRACE_SETREGS 13
#define PTRACE_ATTACH 16
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

/* ---- maps ---- */

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20); /* set by user space before load (ring_size) */
} pg_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pg_config);
} pg_config SEC(".maps");

/* Records the ring buffer had no room for, per kind (per CPU: no atomics on the hot path). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PG_EV_KIND_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} pg_drops SEC(".maps");

/* Per-CPU counters behind one-in-N sampling; and what sampling left out, per kind. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PG_EV_KIND_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} pg_sample_seq SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PG_EV_KIND_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} pg_sampled_out SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u8);
} pg_ignore_uid SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, char[PG_COMM_LEN]);
  __type(value, __u8);
} pg_ignore_comm SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u64);
  __type(value, __u8);
} pg_ignore_cgroup SEC(".maps");

/* accept: the enter's arguments until the return gives the new descriptor. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, __u8);
} pg_in_accept SEC(".maps");

/* The exec record is too big for the BPF stack: built here, then copied into the ring. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pg_exec_event);
} pg_exec_scratch SEC(".maps");

/* ---- helpers ---- */

static __always_inline struct pg_config *config(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&pg_config, &zero);
}

static __always_inline void count_drop(__u32 kind) {
  __u64 *n = bpf_map_lookup_elem(&pg_drops, &kind);
  if (n)
    *n += 1;
}

/* Whether this kind is wanted for the current task: enabled, not filtered, in the sample. */
static __always_inline int wanted(__u32 kind) {
  struct pg_config *cfg = config();
  if (!cfg)
    return 0;
  if (!(cfg->kinds & (1u << kind)))
    return 0;
  if (cfg->filter_uids) {
    __u32 uid = (__u32)bpf_get_current_uid_gid();
    if (bpf_map_lookup_elem(&pg_ignore_uid, &uid))
      return 0;
  }
  if (cfg->filter_comms) {
    char comm[PG_COMM_LEN] = {};
    bpf_get_current_comm(comm, sizeof comm);
    if (bpf_map_lookup_elem(&pg_ignore_comm, comm))
      return 0;
  }
  if (cfg->filter_cgroups) {
    __u64 cg = bpf_get_current_cgroup_id();
    if (bpf_map_lookup_elem(&pg_ignore_cgroup, &cg))
      return 0;
  }
  if (kind < PG_MAX_SAMPLE_KINDS) {
    __u32 every = cfg->sample[kind & (PG_MAX_SAMPLE_KINDS - 1)];
    if (every > 1) {
      __u64 *seq = bpf_map_lookup_elem(&pg_sample_seq, &kind);
      if (seq) {
        __u64 s = (*seq)++;
        if (s % every) {
          __u64 *out = bpf_map_lookup_elem(&pg_sampled_out, &kind);
          if (out)
            *out += 1;
          return 0;
        }
      }
    }
  }
  return 1;
}

/* Waking the reader for every record costs a context switch each: it is woken once a batch
 * waits (wakeup_bytes), and reads on its own schedule otherwise. */
static __always_inline __u64 wake_flag(void) {
  struct pg_config *cfg = config();
  if (!cfg || !cfg->wakeup_bytes)
    return 0;
  return bpf_ringbuf_query(&pg_events, BPF_RB_AVAIL_DATA) >= cfg->wakeup_bytes
             ? BPF_RB_FORCE_WAKEUP
             : BPF_RB_NO_WAKEUP;
}

static __always_inline int is_self(void) {
  struct pg_config *cfg = config();
  return cfg && cfg->self_tgid == (__u32)(bpf_get_current_pid_tgid() >> 32);
}

static __always_inline void fill_hdr(struct pg_hdr *h, __u32 kind) {
  __u64 id = bpf_get_current_pid_tgid();
  __u64 ug = bpf_get_current_uid_gid();
  /* A BTF pointer: its fields are plain loads, not one helper call each. */
  struct task_struct *task = bpf_get_current_task_btf();
  h->kind = kind;
  h->pid = id >> 32;
  h->tid = (__u32)id;
  h->ppid = task->real_parent->tgid;
  h->uid = (__u32)ug;
  h->gid = ug >> 32;
  h->euid = task->cred->euid.val;
  h->pad = 0;
  h->ktime_ns = bpf_ktime_get_ns();
  h->cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(h->comm, sizeof h->comm);
}

/* The current task's open file `fd`: the table through BTF loads, the slot with one read. */
static __always_inline struct file *current_fd(unsigned int fd) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct files_struct *files = task->files;
  if (!files)
    return 0;
  struct fdtable *fdt = files->fdt;
  if (!fdt || fd >= fdt->max_fds)
    return 0;
  struct file **fds = fdt->fd;
  struct file *f = 0;
  bpf_core_read(&f, sizeof f, &fds[fd]);
  return f;
}

static __always_inline int file_is_socket(struct file *f) {
  if (!f)
    return 0;
  unsigned short mode = BPF_CORE_READ(f, f_inode, i_mode);
  return (mode & S_IFMT) == S_IFSOCK;
}

static __always_inline void sock_protocol(struct file *f, __u16 *protocol) {
  if (!file_is_socket(f))
    return;
  struct socket *so = BPF_CORE_READ(f, private_data);
  if (so)
    *protocol = BPF_CORE_READ(so, sk, sk_protocol);
}

/* The 5-tuple of the socket behind a descriptor, when it is one (inet or inet6). */
static __always_inline void sock_tuple(struct file *f, __u16 *family, __u16 *protocol,
                                       __u16 *lport, __u16 *rport, __u8 *laddr, __u8 *raddr) {
  if (!file_is_socket(f))
    return;
  struct socket *so = BPF_CORE_READ(f, private_data);
  if (!so)
    return;
  struct sock *sk = BPF_CORE_READ(so, sk);
  if (!sk)
    return;
  *family = BPF_CORE_READ(sk, __sk_common.skc_family);
  *protocol = BPF_CORE_READ(sk, sk_protocol);
  *lport = BPF_CORE_READ(sk, __sk_common.skc_num);
  *rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (*family == AF_INET) {
    __u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(laddr, &l, 4);
    __builtin_memcpy(raddr, &r, 4);
  } else if (*family == AF_INET6) {
    bpf_core_read(laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(raddr, 16, &sk->__sk_common.skc_v6_daddr);
  }
}

/* A sockaddr in user memory: family, port and address. */
static __always_inline void user_sockaddr(const void *uaddr, __u16 *family, __u16 *port,
                                          __u8 *addr) {
  __u16 fam = 0;
  if (!uaddr || bpf_probe_read_user(&fam, sizeof fam, uaddr))
    return;
  *family = fam;
  if (fam == AF_INET) {
    __u16 p = 0;
    bpf_probe_read_user(&p, sizeof p, (const char *)uaddr + 2);
    *port = bpf_ntohs(p);
    bpf_probe_read_user(addr, 4, (const char *)uaddr + 4);
  } else if (fam == AF_INET6) {
    __u16 p = 0;
    bpf_probe_read_user(&p, sizeof p, (const char *)uaddr + 2);
    *port = bpf_ntohs(p);
    bpf_probe_read_user(addr, 16, (const char *)uaddr + 8);
  }
}

/* ---- process lifecycle ---- */

static __always_inline void exec_cred_check(void);

SEC("raw_tracepoint/sched_process_exec")
int pg_exec(struct bpf_raw_tracepoint_args *ctx) {
  exec_cred_check();
  if (!wanted(PG_EV_EXEC))
    return 0;
  __u32 zero = 0;
  struct pg_exec_event *e = bpf_map_lookup_elem(&pg_exec_scratch, &zero);
  if (!e)
    return 0;
  struct task_struct *task = (struct task_struct *)ctx->args[0];
  struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
  fill_hdr(&e->h, PG_EV_EXEC);
  e->start_boottime_ns = BPF_CORE_READ(task, start_boottime);
  struct file *exe = BPF_CORE_READ(task, mm, exe_file);
  e->exe_ino = exe ? BPF_CORE_READ(exe, f_inode, i_ino) : 0;
  e->exe_nlink = exe ? BPF_CORE_READ(exe, f_inode, i_nlink) : 1;
  e->stdio_sockets = 0;
  e->socket_ino = 0;
  for (unsigned int fd = 0; fd < 3; ++fd) {
    struct file *f = current_fd(fd);
    if (file_is_socket(f)) {
      e->stdio_sockets |= 1u << fd;
      if (!e->socket_ino)
        e->socket_ino = BPF_CORE_READ(f, f_inode, i_ino);
    }
  }
  const char *filename = BPF_CORE_READ(bprm, filename);
  e->filename[0] = 0;
  bpf_probe_read_kernel_str(e->filename, sizeof e->filename, filename);
  unsigned long start = BPF_CORE_READ(task, mm, arg_start);
  unsigned long end = BPF_CORE_READ(task, mm, arg_end);
  unsigned long len = end > start ? end - start : 0;
  e->args_truncated = len > PG_ARGS_LEN;
  if (len > PG_ARGS_LEN)
    len = PG_ARGS_LEN;
  e->args_len = 0;
  __u32 n = (__u32)len;
  asm volatile("" : "+r"(n)); /* keep the bound check below on the register the read uses */
  if (n > 0 && n <= PG_ARGS_LEN && bpf_probe_read_user(e->args, n, (void *)start) == 0)
    e->args_len = n;
  /* Only the argv bytes used travel: a typical exec record is ~450 bytes, not ~900. */
  __u32 size = offsetof(struct pg_exec_event, args) + (e->args_len & (PG_ARGS_LEN * 2 - 1));
  if (size > sizeof *e)
    size = sizeof *e;
  if (bpf_ringbuf_output(&pg_events, e, size, wake_flag()))
    count_drop(PG_EV_EXEC);
  return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int pg_fork(struct bpf_raw_tracepoint_args *ctx) {
  struct task_struct *child = (struct task_struct *)ctx->args[1];
  int pid = BPF_CORE_READ(child, pid);
  if (pid != BPF_CORE_READ(child, tgid))
    return 0; /* a thread, not a process */
  if (!wanted(PG_EV_FORK))
    return 0;
  struct pg_fork_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_FORK);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_FORK);
  e->child_pid = pid;
  e->pad = 0;
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int pg_exit(struct bpf_raw_tracepoint_args *ctx) {
  struct task_struct *task = (struct task_struct *)ctx->args[0];
  if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
    return 0;
  if (!wanted(PG_EV_EXIT))
    return 0;
  struct pg_exit_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_EXIT);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_EXIT);
  e->exit_code = BPF_CORE_READ(task, exit_code);
  e->pad = 0;
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

/* ---- network ---- */

static __always_inline int sock_event(__u32 kind, int fd, const void *uaddr, int remote,
                                      int backlog) {
  if (!wanted(kind))
    return 0;
  struct pg_sock_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(kind);
    return 0;
  }
  fill_hdr(&e->h, kind);
  e->fd = fd;
  e->backlog = backlog;
  e->family = 0;
  e->protocol = 0;
  e->local_port = 0;
  e->remote_port = 0;
  __builtin_memset(e->local_addr, 0, 16);
  __builtin_memset(e->remote_addr, 0, 16);
  if (fd >= 0 && !uaddr) /* accept, listen: the socket knows the addresses */
    sock_tuple(current_fd(fd), &e->family, &e->protocol, &e->local_port, &e->remote_port,
               e->local_addr, e->remote_addr);
  else if (fd >= 0) /* connect, bind: the address is the caller's; the socket adds the protocol */
    sock_protocol(current_fd(fd), &e->protocol);
  if (uaddr) {
    __u16 fam = 0, port = 0;
    __u8 addr[16] = {};
    user_sockaddr(uaddr, &fam, &port, addr);
    if (fam) {
      e->family = fam;
      if (remote) {
        e->remote_port = port;
        __builtin_memcpy(e->remote_addr, addr, 16);
      } else {
        e->local_port = port;
        __builtin_memcpy(e->local_addr, addr, 16);
      }
    }
  }
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int pg_connect(struct sys_enter_ctx *ctx) {
  return sock_event(PG_EV_CONNECT, (int)ctx->args[0], (const void *)ctx->args[1], 1, 0);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int pg_bind(struct sys_enter_ctx *ctx) {
  return sock_event(PG_EV_BIND, (int)ctx->args[0], (const void *)ctx->args[1], 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int pg_listen(struct sys_enter_ctx *ctx) {
  return sock_event(PG_EV_LISTEN, (int)ctx->args[0], 0, 0, (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int pg_accept4_enter(struct sys_enter_ctx *ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  __u8 one = 1;
  bpf_map_update_elem(&pg_in_accept, &tid, &one, BPF_ANY);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int pg_accept_enter(struct sys_enter_ctx *ctx) {
  return pg_accept4_enter(ctx);
}

static __always_inline int accept_exit(struct sys_exit_ctx *ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  if (!bpf_map_lookup_elem(&pg_in_accept, &tid))
    return 0;
  bpf_map_delete_elem(&pg_in_accept, &tid);
  if (ctx->ret < 0)
    return 0;
  return sock_event(PG_EV_ACCEPT, (int)ctx->ret, 0, 1, 0);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int pg_accept4_exit(struct sys_exit_ctx *ctx) {
  return accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int pg_accept_exit(struct sys_exit_ctx *ctx) {
  return accept_exit(ctx);
}

/* dup2/dup3 of a socket onto stdin, stdout or stderr: how a shell's stdio becomes a socket. */
static __always_inline int dup_event(int oldfd, int newfd) {
  if (newfd < 0 || newfd > 2)
    return 0;
  struct file *f = current_fd(oldfd);
  if (!file_is_socket(f))
    return 0;
  if (!wanted(PG_EV_SOCKET_DUP))
    return 0;
  struct pg_socket_dup_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_SOCKET_DUP);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_SOCKET_DUP);
  e->socket_ino = BPF_CORE_READ(f, f_inode, i_ino);
  e->oldfd = oldfd;
  e->newfd = newfd;
  e->family = 0;
  e->protocol = 0;
  e->local_port = 0;
  e->remote_port = 0;
  __builtin_memset(e->local_addr, 0, 16);
  __builtin_memset(e->remote_addr, 0, 16);
  sock_tuple(f, &e->family, &e->protocol, &e->local_port, &e->remote_port, e->local_addr,
             e->remote_addr);
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int pg_dup2(struct sys_enter_ctx *ctx) {
  return dup_event((int)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int pg_dup3(struct sys_enter_ctx *ctx) {
  return dup_event((int)ctx->args[0], (int)ctx->args[1]);
}

/* ---- injection ---- */

SEC("tracepoint/syscalls/sys_enter_ptrace")
int pg_ptrace(struct sys_enter_ctx *ctx) {
  long request = (long)ctx->args[0];
  if (request != PTRACE_ATTACH && request != PTRACE_SEIZE && request != PTRACE_POKETEXT &&
      request != PTRACE_POKEDATA && request != PTRACE_POKEUSER && request != PTRACE_SETREGS &&
      request != PTRACE_SETREGSET)
    return 0;
  if (is_self() || !wanted(PG_EV_PTRACE))
    return 0;
  struct pg_ptrace_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_PTRACE);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_PTRACE);
  e->request = request;
  e->target = (__u32)ctx->args[1];
  e->addr = ctx->args[2];
  e->pad = 0;
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int pg_vm_writev(struct sys_enter_ctx *ctx) {
  if (!wanted(PG_EV_VM_WRITE))
    return 0;
  struct pg_vm_write_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_VM_WRITE);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_VM_WRITE);
  e->target = (__u32)ctx->args[0];
  e->iov_count = ctx->args[4]; /* riovcnt */
  e->pad = 0;
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

/* ---- fileless and memory ---- */

SEC("tracepoint/syscalls/sys_enter_memfd_create")
int pg_memfd(struct sys_enter_ctx *ctx) {
  if (!wanted(PG_EV_MEMFD))
    return 0;
  struct pg_memfd_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_MEMFD);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_MEMFD);
  e->flags = (__u32)ctx->args[1];
  e->pad = 0;
  e->name[0] = 0;
  bpf_probe_read_user_str(e->name, sizeof e->name, (const void *)ctx->args[0]);
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

static __always_inline int mem_exec_event(__u64 addr, __u64 len, __u32 prot, __u32 flags) {
  if (!wanted(PG_EV_MEM_EXEC))
    return 0;
  struct pg_mem_exec_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_MEM_EXEC);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_MEM_EXEC);
  e->addr = addr;
  e->len = len;
  e->prot = prot;
  e->flags = flags;
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

/* An anonymous mapping created executable (shellcode staging; JITs do it too). */
SEC("tracepoint/syscalls/sys_enter_mmap")
int pg_mmap(struct sys_enter_ctx *ctx) {
  __u32 prot = (__u32)ctx->args[2];
  __u32 mflags = (__u32)ctx->args[3];
  if (!(prot & PROT_EXEC) || !(mflags & MAP_ANONYMOUS))
    return 0;
  return mem_exec_event(ctx->args[0], ctx->args[1], prot,
                        PG_MEM_ANONYMOUS | ((prot & PROT_WRITE) ? PG_MEM_WAS_WRITABLE : 0));
}

/* Memory made executable (mprotect): the vma, found with bpf_find_vma, tells whether it is
 * anonymous or was writable. */
struct vma_verdict {
  __u64 start;
  __u64 end;
  __u32 flags; /* PG_MEM_*; 0: not of interest */
  __u32 found;
};

static long vma_check(struct task_struct *task, struct vm_area_struct *vma, void *data) {
  struct vma_verdict *v = data;
  unsigned long vm_flags = vma->vm_flags;
  v->found = 1;
  v->start = vma->vm_start;
  v->end = vma->vm_end;
  if (vm_flags & VM_EXEC)
    return 0; /* already executable: nothing new */
  __u32 flags = PG_MEM_MPROTECT;
  if (!vma->vm_file)
    flags |= PG_MEM_ANONYMOUS;
  if (vm_flags & VM_WRITE)
    flags |= PG_MEM_WAS_WRITABLE;
  v->flags = flags;
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_mprotect")
int pg_mprotect(struct sys_enter_ctx *ctx) {
  __u32 prot = (__u32)ctx->args[2];
  if (!(prot & PROT_EXEC))
    return 0;
  struct vma_verdict v = {};
  struct task_struct *task = bpf_get_current_task_btf();
  if (bpf_find_vma(task, ctx->args[0], vma_check, &v, 0) != 0 || !v.found)
    return 0;
  if (prot & PROT_WRITE)
    v.flags |= PG_MEM_WAS_WRITABLE;
  /* A file mapping made executable again that was never writable is the loader's doing. */
  if (!(v.flags & (PG_MEM_ANONYMOUS | PG_MEM_WAS_WRITABLE)))
    return 0;
  return mem_exec_event(ctx->args[0], ctx->args[1], prot, v.flags);
}

/* ---- kernel modules and BPF ---- */

static __always_inline int module_event(__u32 kind, __u32 nr, int fd, const void *uname) {
  if (!wanted(kind))
    return 0;
  struct pg_module_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(kind);
    return 0;
  }
  fill_hdr(&e->h, kind);
  e->fd = fd;
  e->syscall_nr = nr;
  e->name[0] = 0;
  if (uname)
    bpf_probe_read_user_str(e->name, sizeof e->name, uname);
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int pg_init_module(struct sys_enter_ctx *ctx) {
  return module_event(PG_EV_MODULE_LOAD, 1, -1, (const void *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int pg_finit_module(struct sys_enter_ctx *ctx) {
  return module_event(PG_EV_MODULE_LOAD, 2, (int)ctx->args[0], (const void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_delete_module")
int pg_delete_module(struct sys_enter_ctx *ctx) {
  return module_event(PG_EV_MODULE_UNLOAD, 3, -1, (const void *)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_bpf")
int pg_bpf(struct sys_enter_ctx *ctx) {
  if ((int)ctx->args[0] != BPF_PROG_LOAD)
    return 0;
  if (is_self() || !wanted(PG_EV_BPF_LOAD))
    return 0;
  struct pg_bpf_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_BPF_LOAD);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_BPF_LOAD);
  e->cmd = BPF_PROG_LOAD;
  e->prog_type = 0;
  __builtin_memset(e->prog_name, 0, sizeof e->prog_name);
  const union bpf_attr *uattr = (const union bpf_attr *)ctx->args[1];
  bpf_probe_read_user(&e->prog_type, sizeof e->prog_type, &uattr->prog_type);
  bpf_probe_read_user(e->prog_name, sizeof e->prog_name, &uattr->prog_name);
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

/* ---- credentials ----
 * Without kprobes (this kernel may have none) the changes are seen at the syscalls that make
 * them: the credentials are kept at entry and compared at exit (setuid, setreuid, setresuid,
 * capset), and for exec kept at execve's entry and compared when the new image runs.
 * Only gains are sent: an effective or real uid becoming 0, or effective capabilities added. */

struct cred_before {
  __u32 uid;
  __u32 euid;
  __u64 caps;
};

/* By thread for the set*id syscalls; by process for exec (the exec'ing thread becomes the
 * leader). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, struct cred_before);
} pg_cred_syscall SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, struct cred_before);
} pg_cred_exec SEC(".maps");

static __always_inline void read_cred(struct task_struct *task, struct cred_before *c) {
  const struct cred *cred = BPF_CORE_READ(task, cred);
  c->uid = BPF_CORE_READ(cred, uid.val);
  c->euid = BPF_CORE_READ(cred, euid.val);
  c->caps = 0;
  bpf_core_read(&c->caps, sizeof c->caps, &cred->cap_effective);
}

static __always_inline void keep_cred(void *map, __u32 key) {
  struct cred_before c = {};
  read_cred((struct task_struct *)bpf_get_current_task(), &c);
  bpf_map_update_elem(map, &key, &c, BPF_ANY);
}

static __always_inline int cred_compare(const struct cred_before *old, __u32 in_exec,
                                        __u32 syscall_nr) {
  struct cred_before now = {};
  read_cred((struct task_struct *)bpf_get_current_task(), &now);
  int gain = (old->euid != 0 && now.euid == 0) || (old->uid != 0 && now.uid == 0) ||
             (now.caps & ~old->caps) != 0;
  if (!gain || !wanted(PG_EV_CRED))
    return 0;
  struct pg_cred_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_CRED);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_CRED);
  e->old_uid = old->uid;
  e->old_euid = old->euid;
  e->new_uid = now.uid;
  e->new_euid = now.euid;
  e->old_caps = old->caps;
  e->new_caps = now.caps;
  e->in_exec = in_exec;
  e->syscall_nr = syscall_nr;
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}

static __always_inline int cred_enter(void) {
  keep_cred(&pg_cred_syscall, (__u32)bpf_get_current_pid_tgid());
  return 0;
}

static __always_inline int cred_exit(struct sys_exit_ctx *ctx, __u32 which) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct cred_before *old = bpf_map_lookup_elem(&pg_cred_syscall, &tid);
  if (!old)
    return 0;
  struct cred_before copy = *old;
  bpf_map_delete_elem(&pg_cred_syscall, &tid);
  if (ctx->ret != 0)
    return 0;
  return cred_compare(&copy, 0, which);
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int pg_setuid_enter(struct sys_enter_ctx *ctx) { return cred_enter(); }
SEC("tracepoint/syscalls/sys_exit_setuid")
int pg_setuid_exit(struct sys_exit_ctx *ctx) { return cred_exit(ctx, 1); }
SEC("tracepoint/syscalls/sys_enter_setreuid")
int pg_setreuid_enter(struct sys_enter_ctx *ctx) { return cred_enter(); }
SEC("tracepoint/syscalls/sys_exit_setreuid")
int pg_setreuid_exit(struct sys_exit_ctx *ctx) { return cred_exit(ctx, 2); }
SEC("tracepoint/syscalls/sys_enter_setresuid")
int pg_setresuid_enter(struct sys_enter_ctx *ctx) { return cred_enter(); }
SEC("tracepoint/syscalls/sys_exit_setresuid")
int pg_setresuid_exit(struct sys_exit_ctx *ctx) { return cred_exit(ctx, 3); }
SEC("tracepoint/syscalls/sys_enter_capset")
int pg_capset_enter(struct sys_enter_ctx *ctx) { return cred_enter(); }
SEC("tracepoint/syscalls/sys_exit_capset")
int pg_capset_exit(struct sys_exit_ctx *ctx) { return cred_exit(ctx, 5); }

static __always_inline int exec_enter(void) {
  /* Root's effective uid cannot rise: only others' execs are worth remembering. */
  struct task_struct *task = bpf_get_current_task_btf();
  if (task->cred->euid.val == 0)
    return 0;
  keep_cred(&pg_cred_exec, (__u32)(bpf_get_current_pid_tgid() >> 32));
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int pg_execve_enter(struct sys_enter_ctx *ctx) {
  return exec_enter();
}
SEC("tracepoint/syscalls/sys_enter_execveat")
int pg_execveat_enter(struct sys_enter_ctx *ctx) {
  return exec_enter();
}

/* Called from the exec hook, before the exec record: the gain the new image brought. */
static __always_inline void exec_cred_check(void) {
  __u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
  struct cred_before *old = bpf_map_lookup_elem(&pg_cred_exec, &tgid);
  if (!old)
    return;
  struct cred_before copy = *old;
  bpf_map_delete_elem(&pg_cred_exec, &tgid);
  cred_compare(&copy, 1, 0);
}

/* ---- writes to persistence and credential paths ---- */

static __always_inline int has_prefix(const char *s, const char *p, int n) {
  for (int i = 0; i < n; ++i)
    if (s[i] != p[i])
      return 0;
  return 1;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int pg_openat(struct sys_enter_ctx *ctx) {
  int flags = (int)ctx->args[2];
  if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)))
    return 0;
  char head[16] = {};
  if (bpf_probe_read_user_str(head, sizeof head, (const void *)ctx->args[1]) <= 0)
    return 0;
  /* Only absolute paths under the places persistence and credentials live; user space matches
   * the exact watch list. */
  if (!has_prefix(head, "/etc/", 5) && !has_prefix(head, "/root/", 6) &&
      !has_prefix(head, "/home/", 6) && !has_prefix(head, "/var/spool/cron", 15) &&
      !has_prefix(head, "/usr/lib/systemd", 16) && !has_prefix(head, "/lib/systemd/", 13))
    return 0;
  if (!wanted(PG_EV_OPEN_WRITE))
    return 0;
  struct pg_open_event *e = bpf_ringbuf_reserve(&pg_events, sizeof *e, 0);
  if (!e) {
    count_drop(PG_EV_OPEN_WRITE);
    return 0;
  }
  fill_hdr(&e->h, PG_EV_OPEN_WRITE);
  e->flags = flags;
  e->pad = 0;
  e->path[0] = 0;
  bpf_probe_read_user_str(e->path, sizeof e->path, (const void *)ctx->args[1]);
  bpf_ringbuf_submit(e, wake_flag());
  return 0;
}
