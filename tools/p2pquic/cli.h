/* Shared pieces of the p2pquic command-line tool. */
#ifndef P2PQ_TOOL_CLI_H
#define P2PQ_TOOL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/runtime.h"

/* Exit codes: 0 ok, 1 the operation failed, 2 usage error. */
enum { P2PQ_CLI_OK = 0, P2PQ_CLI_FAIL = 1, P2PQ_CLI_USAGE = 2 };

/* hq-interop stream errors (RESET_STREAM / STOP_SENDING codes). */
enum { P2PQ_HQ_ERR_NOT_FOUND = 0x1, P2PQ_HQ_ERR_BAD_REQUEST = 0x2, P2PQ_HQ_ERR_INTERNAL = 0x3 };

int p2pq_cli_serve(int argc, char **argv);
int p2pq_cli_fetch(int argc, char **argv);
int p2pq_cli_keygen(int argc, char **argv);
void p2pq_cli_usage(const char *topic);

/* Prints "p2pquic: <msg>" to stderr. */
void p2pq_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the message and "Try 'p2pquic help CMD'."; returns P2PQ_CLI_USAGE. */
int p2pq_cli_usage_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads a whole file (NUL-terminated, malloc'd); NULL with errno set on failure. */
char *p2pq_cli_read_file(const char *path, size_t *len);

/* SIGINT/SIGTERM stop this runtime's loop with code (NULL: forget it). */
void p2pq_cli_catch_signals(p2pq_runtime *rt, int code);

/* Seconds as a double between two runtime timestamps. */
double p2pq_cli_secs(p2pq_tstamp from, p2pq_tstamp to);

/* Progress line on a terminal and the final summary. */
typedef struct p2pq_cli_progress {
  int tty;
  p2pq_tstamp start, last_draw;
  uint64_t bytes;
  size_t files_done, files;
} p2pq_cli_progress;
void p2pq_cli_progress_init(p2pq_cli_progress *p, size_t files, p2pq_tstamp start);
void p2pq_cli_progress_add(p2pq_cli_progress *p, uint64_t bytes, p2pq_tstamp now);
void p2pq_cli_progress_done(p2pq_cli_progress *p, p2pq_tstamp now);

#endif
