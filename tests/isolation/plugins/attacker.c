// SPDX-License-Identifier: Apache-2.0
/* attacker.c — a plugin in plain C whose ELF constructor or entry point attacks the host, for the
 * isolation tests. A constructor has no input but its own file, so the attack is named by the
 * file's name: attack-WHAT-PHASE[-ARG].so, PHASE "ctor" (the constructor, inside dlopen) or
 * "entry" (pg_plugin_entry). WHAT:
 *   write      creates /etc/phantomguard-attack-ARG
 *   shadow     reads /etc/shadow
 *   connect    opens a TCP connection to 127.0.0.1:ARG
 *   exec       runs /bin/sh -c "touch /tmp/phantomguard-attack-ARG"
 *   fork       forks a child that creates /tmp/phantomguard-attack-ARG
 *   ptrace     attaches to its parent (the engine, or the child host's parent)
 *   environ    looks for PG_TEST_SECRET in its environment and in its parent's
 *   stateread  reads /tmp/pg-attack-ARG/secret (the test's engine state dir)
 *   statewrite creates /tmp/pg-attack-ARG/planted
 *   none       nothing (a well-behaved copy)
 * What an attempt that returned got is reported by the detector's first batch as the finding
 * attack.result (errno name, bytes read, whether the secret was seen). Built a second time with
 * PG_ATTACKER_SWAPPED (other bytes, the same manifest): that copy always does "write" with ARG
 * "swap", for the test that renames it over a checked plugin. */
#define _GNU_SOURCE
#include <phantomguard/sdk/plugin.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

extern char** environ;

static struct {
  char what[32];
  char phase[8];
  char arg[64];
  int parsed;
  int attempted;
  int err;
  long bytes;
  long env_count;
  int secret_seen;
} g;

static void parse_name(void) {
  if (g.parsed)
    return;
  g.parsed = 1;
  Dl_info info;
  memset(&info, 0, sizeof info);
  const char* path = "";
  char real[1024];
  if (dladdr((void*)&parse_name, &info) != 0 && info.dli_fname != NULL) {
    path = info.dli_fname;
    const ssize_t n = readlink(info.dli_fname, real, sizeof real - 1); /* /proc/self/fd/N */
    if (n > 0) {
      real[n] = '\0';
      path = real;
    }
  }
  const char* base = strrchr(path, '/');
  base = base != NULL ? base + 1 : path;
  if (sscanf(base, "attack-%31[^-]-%7[^-.]-%63[^.]", g.what, g.phase, g.arg) < 2)
    strcpy(g.what, "none");
}

static long read_some(const char* path, int* err) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return 0;
  }
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0 && memmem(buf, (size_t)n, "s3cr3t-of-the-engine", 20) != NULL)
    g.secret_seen = 1;
  close(fd);
  return n > 0 ? (long)n : 0;
}

static void attack(void) {
  char path[256];
  g.attempted = 1;
  if (strcmp(g.what, "write") == 0) {
    snprintf(path, sizeof path, "/etc/phantomguard-attack-%s", g.arg);
    const int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    g.err = fd < 0 ? errno : 0;
    if (fd >= 0) {
      (void)!write(fd, "pwned\n", 6);
      close(fd);
    }
  } else if (strcmp(g.what, "shadow") == 0) {
    g.bytes = read_some("/etc/shadow", &g.err);
  } else if (strcmp(g.what, "connect") == 0) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
      g.err = errno;
      return;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(g.arg));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g.err = connect(s, (struct sockaddr*)&a, sizeof a) != 0 ? errno : 0;
    close(s);
  } else if (strcmp(g.what, "exec") == 0) {
    snprintf(path, sizeof path, "touch /tmp/phantomguard-attack-%s", g.arg);
    execl("/bin/sh", "sh", "-c", path, (char*)NULL);
    g.err = errno;
  } else if (strcmp(g.what, "fork") == 0) {
    const pid_t pid = fork();
    if (pid == 0) {
      snprintf(path, sizeof path, "/tmp/phantomguard-attack-%s", g.arg);
      const int fd = open(path, O_WRONLY | O_CREAT, 0644);
      if (fd >= 0)
        close(fd);
      _exit(0);
    }
    g.err = pid < 0 ? errno : 0;
  } else if (strcmp(g.what, "ptrace") == 0) {
    g.err = ptrace(PTRACE_ATTACH, getppid(), NULL, NULL) != 0 ? errno : 0;
  } else if (strcmp(g.what, "environ") == 0) {
    for (char** e = environ; e != NULL && *e != NULL; ++e) {
      ++g.env_count;
      if (strstr(*e, "s3cr3t-of-the-engine") != NULL)
        g.secret_seen = 1;
    }
    snprintf(path, sizeof path, "/proc/%d/environ", (int)getppid());
    g.bytes = read_some(path, &g.err);
  } else if (strcmp(g.what, "stateread") == 0) {
    snprintf(path, sizeof path, "/tmp/pg-attack-%s/secret", g.arg);
    g.bytes = read_some(path, &g.err);
  } else if (strcmp(g.what, "statewrite") == 0) {
    snprintf(path, sizeof path, "/tmp/pg-attack-%s/planted", g.arg);
    const int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    g.err = fd < 0 ? errno : 0;
    if (fd >= 0)
      close(fd);
  } else {
    g.attempted = 0;
  }
}

__attribute__((constructor)) static void at_load(void) {
  parse_name();
#ifdef PG_ATTACKER_SWAPPED
  /* The copy swapped in behind the checks' back (the swap test): whatever its name, it writes. */
  strcpy(g.what, "write");
  strcpy(g.phase, "ctor");
  strcpy(g.arg, "swap");
#endif
  if (strcmp(g.phase, "ctor") == 0)
    attack();
}

/* ---- the detector: reports what the attack got ---------------------------------------------- */

struct pg_detector {
  const pg_host_api* host;
  int reported;
};

static pg_str str(const char* s) {
  pg_str out = {s, strlen(s)};
  return out;
}

static pg_detector* create(const pg_config* config, const pg_host_api* host, pg_error* err) {
  (void)config;
  pg_detector* d = (pg_detector*)calloc(1, sizeof *d);
  if (d == NULL) {
    pg_error_set(err, PG_ERR_NO_MEMORY, "out of memory");
    return NULL;
  }
  d->host = host;
  return d;
}

static pg_status on_batch(pg_detector* d, const pg_event_batch* batch, pg_error* err) {
  (void)batch;
  (void)err;
  if (d->reported)
    return PG_OK;
  d->reported = 1;
  const char* errname = g.err != 0 ? strerrorname_np(g.err) : "none";
  pg_field evidence[6];
  memset(evidence, 0, sizeof evidence);
  evidence[0].key = str("attack");
  evidence[0].value.type = PG_VALUE_STRING;
  evidence[0].value.as.s = str(g.what);
  evidence[1].key = str("phase");
  evidence[1].value.type = PG_VALUE_STRING;
  evidence[1].value.as.s = str(g.phase);
  evidence[2].key = str("errno");
  evidence[2].value.type = PG_VALUE_STRING;
  evidence[2].value.as.s = str(errname != NULL ? errname : "?");
  evidence[3].key = str("bytes");
  evidence[3].value.type = PG_VALUE_INT;
  evidence[3].value.as.i = g.bytes;
  evidence[4].key = str("env_count");
  evidence[4].value.type = PG_VALUE_INT;
  evidence[4].value.as.i = g.env_count;
  evidence[5].key = str("secret_seen");
  evidence[5].value.type = PG_VALUE_BOOL;
  evidence[5].value.as.b = g.secret_seen;
  pg_finding f;
  memset(&f, 0, sizeof f);
  f.struct_size = sizeof f;
  f.rule = str("attack.result");
  f.severity = PG_SEVERITY_INFO;
  f.title = str(g.attempted ? "the attack returned" : "no attack");
  f.evidence = evidence;
  f.evidence_count = 6;
  return d->host->emit_finding(d->host->host, &f);
}

static void destroy(pg_detector* d) {
  free(d);
}

static const pg_detector_vtable vtable = {
    sizeof(pg_detector_vtable), create, on_batch, NULL, NULL, NULL, NULL, NULL, destroy};

static const pg_detector_vtable* find_detector(pg_str name) {
  return name.size == 8 && memcmp(name.data, "attacker", 8) == 0 ? &vtable : NULL;
}

PG_EXPORT const pg_plugin* pg_plugin_entry(uint32_t major, uint32_t minor) {
  static pg_plugin table;
  (void)minor;
  parse_name();
  if (strcmp(g.phase, "entry") == 0 && !g.attempted)
    attack();
  if (major != PG_ABI_MAJOR)
    return NULL;
  table.struct_size = sizeof table;
  table.abi_major = PG_ABI_MAJOR;
  table.abi_minor = 0;
  table.manifest = pg_note_manifest(pg_sdk_embedded_manifest());
  table.detector = find_detector;
  return &table;
}
