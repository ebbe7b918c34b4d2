// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
/* netcat_exec.c — a detector plugin in plain C against plugin.h alone: no C++ wrapper, no CMake
 * helper. Built with the compiler flags pkg-config gives (see the Makefile). It reports a netcat
 * started with a program to run (-e / -c / --exec / --sh-exec): a bind or reverse shell.
 * The manifest is embedded with PG_DEFINE_MANIFEST_NOTE, so the engine reads it without running
 * this code; pg_plugin_entry returns the very same bytes. */
#include <phantomguard/sdk/plugin.h>

#include <stdlib.h>
#include <string.h>

PG_DEFINE_MANIFEST_NOTE(0, "{\"id\": \"com.example.netcat-exec\", \"version\": \"1.0.0\", "
                           "\"vendor\": \"Example Corp\", \"license\": \"Apache-2.0\", "
                           "\"description\": \"netcat started with a program to run\", "
                           "\"detectors\": [{\"name\": \"netcat_exec\", "
                           "\"subscribes\": [\"process\", \"process_exec\"], "
                           "\"capabilities\": [\"findings\"]}]}")

struct pg_detector {
  const pg_host_api* host;
};

static pg_str str(const char* s) {
  pg_str out = {s, strlen(s)};
  return out;
}

/* The value of string field `key`, or an empty string. */
static pg_str field(const pg_event* e, const char* key) {
  const size_t n = strlen(key);
  for (size_t i = 0; i < e->field_count; ++i)
    if (e->fields[i].key.size == n && memcmp(e->fields[i].key.data, key, n) == 0 &&
        e->fields[i].value.type == PG_VALUE_STRING)
      return e->fields[i].value.as.s;
  pg_str none = {"", 0};
  return none;
}

static int contains(pg_str s, const char* needle) {
  const size_t n = strlen(needle);
  for (size_t i = 0; n <= s.size && i + n <= s.size; ++i)
    if (memcmp(s.data + i, needle, n) == 0)
      return 1;
  return 0;
}

static int is_netcat(pg_str comm) {
  static const char* const names[] = {"nc", "ncat", "netcat", "nc.traditional", NULL};
  for (const char* const* n = names; *n != NULL; ++n)
    if (comm.size == strlen(*n) && memcmp(comm.data, *n, comm.size) == 0)
      return 1;
  return 0;
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
  for (size_t i = 0; i < batch->count; ++i) {
    const pg_event* e = &batch->events[i];
    const pg_str cmdline = field(e, "cmdline");
    if (!is_netcat(field(e, "comm")) ||
        !(contains(cmdline, " -e ") || contains(cmdline, " -c ") || contains(cmdline, "--exec") ||
          contains(cmdline, "--sh-exec")))
      continue;
    pg_field entity[1], evidence[1];
    memset(entity, 0, sizeof entity);
    memset(evidence, 0, sizeof evidence);
    for (size_t k = 0; k < e->field_count; ++k)
      if (e->fields[k].key.size == 3 && memcmp(e->fields[k].key.data, "pid", 3) == 0)
        entity[0] = e->fields[k];
    evidence[0].key = str("cmdline");
    evidence[0].value.type = PG_VALUE_STRING;
    evidence[0].value.as.s = cmdline;
    const pg_str mitre[1] = {{"T1059", 5}};
    pg_finding f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.rule = str("example.netcat_exec");
    f.severity = PG_SEVERITY_HIGH;
    f.title = str("netcat started with a program to run (a bind or reverse shell)");
    f.entity = entity;
    f.entity_count = entity[0].key.size > 0 ? 1 : 0;
    f.evidence = evidence;
    f.evidence_count = 1;
    f.mitre = mitre;
    f.mitre_count = 1;
    const pg_status rc = d->host->emit_finding(d->host->host, &f);
    if (rc != PG_OK)
      return pg_error_set(err, rc, "emit_finding failed");
  }
  return PG_OK;
}

static void destroy(pg_detector* d) {
  free(d);
}

static const pg_detector_vtable vtable = {
    sizeof(pg_detector_vtable), create, on_batch, NULL, NULL, NULL, NULL, NULL, destroy};

static const pg_detector_vtable* find_detector(pg_str name) {
  return name.size == 11 && memcmp(name.data, "netcat_exec", 11) == 0 ? &vtable : NULL;
}

PG_EXPORT const pg_plugin* pg_plugin_entry(uint32_t host_major, uint32_t host_minor) {
  static pg_plugin table;
  (void)host_minor;
  if (host_major != PG_ABI_MAJOR)
    return NULL;
  table.struct_size = sizeof table;
  table.abi_major = PG_ABI_MAJOR;
  table.abi_minor = 0;
  table.manifest = pg_note_manifest(pg_sdk_embedded_manifest());
  table.detector = find_detector;
  return &table;
}
