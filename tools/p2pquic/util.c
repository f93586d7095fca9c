/* Messages, files, signals and the progress display of the p2pquic tool. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void p2pq_cli_err(const char *fmt, ...) {
  va_list ap;
  fputs("p2pquic: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int p2pq_cli_usage_err(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fputs("p2pquic: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'p2pquic help%s%s'.\n", cmd ? " " : "", cmd ? cmd : "");
  return P2PQ_CLI_USAGE;
}

char *p2pq_cli_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0;
  if (f == NULL)
    return NULL;
  for (;;) {
    size_t r;
    if (cap - n < 4096) {
      char *nb = realloc(buf, cap ? cap * 2 : 8192);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        errno = ENOMEM;
        return NULL;
      }
      buf = nb;
      cap = cap ? cap * 2 : 8192;
    }
    r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0)
      break;
  }
  if (ferror(f)) {
    int e = errno;
    free(buf);
    fclose(f);
    errno = e;
    return NULL;
  }
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static p2pq_runtime *g_sig_rt;
static int g_sig_code;

static void on_signal(int sig) {
  (void)sig;
  if (g_sig_rt != NULL)
    p2pq_runtime_stop(g_sig_rt, g_sig_code);
}

void p2pq_cli_catch_signals(p2pq_runtime *rt, int code) {
  struct sigaction sa;
  g_sig_rt = rt;
  g_sig_code = code;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = rt != NULL ? on_signal : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

double p2pq_cli_secs(p2pq_tstamp from, p2pq_tstamp to) {
  return to > from ? (double)(to - from) / 1e9 : 0.0;
}

void p2pq_cli_progress_init(p2pq_cli_progress *p, size_t files, p2pq_tstamp start) {
  memset(p, 0, sizeof(*p));
  p->tty = isatty(STDERR_FILENO);
  p->files = files;
  p->start = start;
}

static void fmt_bytes(char *out, size_t cap, uint64_t b) {
  if (b >= 1000000000ull)
    snprintf(out, cap, "%.2f GB", (double)b / 1e9);
  else if (b >= 1000000ull)
    snprintf(out, cap, "%.1f MB", (double)b / 1e6);
  else
    snprintf(out, cap, "%.1f kB", (double)b / 1e3);
}

/* HTTP/0.9 sends no length, so the bar counts files; bytes and rate show
 * the progress within them. */
static void draw(p2pq_cli_progress *p, p2pq_tstamp now) {
  static const char spin[] = "|/-\\";
  char b[32], bar[24];
  double s = p2pq_cli_secs(p->start, now);
  size_t w = sizeof(bar) - 3, fill = p->files ? p->files_done * w / p->files : 0;
  bar[0] = '[';
  for (size_t i = 0; i < w; i++)
    bar[1 + i] = i < fill ? '#' : i == fill ? spin[(now / (200 * P2PQ_MS)) % 4] : '.';
  bar[w + 1] = ']';
  bar[w + 2] = '\0';
  fmt_bytes(b, sizeof(b), p->bytes);
  fprintf(stderr, "\r%s %zu/%zu files %10s %8.1f MB/s %6.1f s ", bar, p->files_done, p->files,
          b, s > 0 ? (double)p->bytes / 1e6 / s : 0.0, s);
  fflush(stderr);
  p->last_draw = now;
}

void p2pq_cli_progress_add(p2pq_cli_progress *p, uint64_t bytes, p2pq_tstamp now) {
  p->bytes += bytes;
  if (p->tty && now - p->last_draw >= 100 * P2PQ_MS)
    draw(p, now);
}

void p2pq_cli_progress_done(p2pq_cli_progress *p, p2pq_tstamp now) {
  double s = p2pq_cli_secs(p->start, now);
  if (p->tty && p->last_draw != 0)
    fputs("\r\033[K", stderr); /* wipe the progress line */
  fprintf(stderr, "fetched %zu of %zu files, %llu bytes in %.3f s (%.1f MB/s)\n",
          p->files_done, p->files, (unsigned long long)p->bytes, s,
          s > 0 ? (double)p->bytes / 1e6 / s : 0.0);
}
