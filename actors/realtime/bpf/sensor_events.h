// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
/* sensor_events.h — the records the kernel sensor's BPF program writes into its ring buffer, shared
 * by the BPF side (sensor.bpf.c, compiled with clang -target bpf) and the reader in user space
 * (kernel_sensor.cpp). Plain C, fixed-width fields, every record starts with pg_hdr. A change here
 * changes both sides at once: the object is rebuilt and re-embedded with the binary. */
#ifndef PG_SENSOR_EVENTS_H
#define PG_SENSOR_EVENTS_H

#ifdef __bpf__
typedef __u8 pg_u8;
typedef __u16 pg_u16;
typedef __u32 pg_u32;
typedef __s32 pg_s32;
typedef __u64 pg_u64;
typedef __s64 pg_s64;
#else
#include <stdint.h>
typedef uint8_t pg_u8;
typedef uint16_t pg_u16;
typedef uint32_t pg_u32;
typedef int32_t pg_s32;
typedef uint64_t pg_u64;
typedef int64_t pg_s64;
#endif

/* Record kinds. Also the index of the per-kind drop and sample counters, and the bit of the kind
 * in pg_config.kinds. */
enum pg_kind {
  PG_EV_EXEC = 1,
  PG_EV_EXIT,
  PG_EV_FORK,
  PG_EV_CONNECT,
  PG_EV_ACCEPT,
  PG_EV_BIND,
  PG_EV_LISTEN,
  PG_EV_PTRACE,
  PG_EV_VM_WRITE,
  PG_EV_MEMFD,
  PG_EV_MEM_EXEC,
  PG_EV_MODULE_LOAD,
  PG_EV_MODULE_UNLOAD,
  PG_EV_BPF_LOAD,
  PG_EV_CRED,
  PG_EV_SOCKET_DUP,
  PG_EV_OPEN_WRITE,
  PG_EV_KIND_COUNT
};

#define PG_COMM_LEN 16
#define PG_FILENAME_LEN 256
#define PG_ARGS_LEN 512
#define PG_NAME_LEN 64
#define PG_PATH_LEN 256
#define PG_MAX_SAMPLE_KINDS 32

/* What user space sets before attaching (array map "pg_config", one entry). */
struct pg_config {
  pg_u32 self_tgid;       /* the engine: its own bpf() loads and ptrace are not reported */
  pg_u32 kinds;           /* bit (1 << kind): emitted */
  pg_u32 filter_uids;     /* 1: consult pg_ignore_uid */
  pg_u32 filter_comms;    /* 1: consult pg_ignore_comm */
  pg_u32 filter_cgroups;  /* 1: consult pg_ignore_cgroup */
  pg_u32 wakeup_bytes;    /* wake the reader only once this much waits (it also polls) */
  pg_u32 sample[PG_MAX_SAMPLE_KINDS]; /* 0 or 1: every event; N: one in N (per CPU) */
};

struct pg_hdr {
  pg_u32 kind;
  pg_u32 pid;  /* tgid */
  pg_u32 tid;
  pg_u32 ppid; /* real parent's tgid */
  pg_u32 uid;
  pg_u32 euid;
  pg_u32 gid;
  pg_u32 pad;
  pg_u64 ktime_ns; /* CLOCK_MONOTONIC */
  pg_u64 cgroup_id;
  char comm[PG_COMM_LEN];
};

struct pg_exec_event {
  struct pg_hdr h;
  pg_u64 exe_ino;
  pg_u64 start_boottime_ns;
  pg_u64 socket_ino;    /* the inode of the first socket among fds 0..2: one session's mark */
  pg_u32 exe_nlink;     /* 0: the executable has no name left (memfd, deleted) */
  pg_u32 stdio_sockets; /* bit n: fd n (0..2) is a socket */
  pg_u32 args_len;      /* bytes of args used (NUL separated) */
  pg_u32 args_truncated;
  char filename[PG_FILENAME_LEN];
  char args[PG_ARGS_LEN]; /* last: the record ends after args_len bytes of it */
};

struct pg_exit_event {
  struct pg_hdr h;
  pg_s32 exit_code; /* the wait status */
  pg_u32 pad;
};

struct pg_fork_event {
  struct pg_hdr h;
  pg_u32 child_pid;
  pg_u32 pad;
};

struct pg_sock_event {
  struct pg_hdr h;
  pg_s32 fd;
  pg_s32 backlog;
  pg_u16 family;
  pg_u16 protocol; /* IPPROTO_* when known */
  pg_u16 local_port;
  pg_u16 remote_port;
  pg_u8 local_addr[16];
  pg_u8 remote_addr[16];
};

struct pg_ptrace_event {
  struct pg_hdr h;
  pg_s64 request;
  pg_u64 addr;
  pg_u32 target;
  pg_u32 pad;
};

struct pg_vm_write_event {
  struct pg_hdr h;
  pg_u64 iov_count;
  pg_u32 target;
  pg_u32 pad;
};

struct pg_memfd_event {
  struct pg_hdr h;
  pg_u32 flags;
  pg_u32 pad;
  char name[PG_NAME_LEN];
};

#define PG_MEM_ANONYMOUS 1u
#define PG_MEM_WAS_WRITABLE 2u
#define PG_MEM_MPROTECT 4u

struct pg_mem_exec_event {
  struct pg_hdr h;
  pg_u64 addr;
  pg_u64 len;
  pg_u32 prot;
  pg_u32 flags; /* PG_MEM_* */
};

struct pg_module_event {
  struct pg_hdr h;
  pg_s32 fd; /* finit_module; -1 otherwise */
  pg_u32 syscall_nr;
  char name[PG_NAME_LEN]; /* delete_module's name, or init_module's arguments */
};

struct pg_bpf_event {
  struct pg_hdr h;
  pg_u32 cmd;
  pg_u32 prog_type;
  char prog_name[16];
};

struct pg_cred_event {
  struct pg_hdr h;
  pg_u32 old_uid;
  pg_u32 old_euid;
  pg_u32 new_uid;
  pg_u32 new_euid;
  pg_u64 old_caps;
  pg_u64 new_caps;
  pg_u32 in_exec;    /* the gain came with an exec */
  pg_u32 syscall_nr; /* 0 exec, 1 setuid, 2 setreuid, 3 setresuid, 5 capset */
};

struct pg_socket_dup_event {
  struct pg_hdr h;
  pg_u64 socket_ino;
  pg_s32 oldfd;
  pg_s32 newfd;
  pg_u16 family;
  pg_u16 protocol;
  pg_u16 local_port;
  pg_u16 remote_port;
  pg_u8 local_addr[16];
  pg_u8 remote_addr[16];
};

struct pg_open_event {
  struct pg_hdr h;
  pg_s32 flags;
  pg_u32 pad;
  char path[PG_PATH_LEN];
};

#endif
