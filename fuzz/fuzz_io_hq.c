/* hq-interop request lines and https URLs (src/io/hq.c). The first byte picks
 * the parser and the FIN flag; the rest is the input, copied to an exact-size
 * heap buffer so that ASan sees any over-read. Accepted requests must be safe
 * paths that format and parse back to themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/hq.h"

static void check_request(const uint8_t *p, size_t len, int fin) {
  char path[P2PQ_HQ_PATH_MAX], again[P2PQ_HQ_PATH_MAX];
  uint8_t line[P2PQ_HQ_PATH_MAX + 8];
  int n;
  if (p2pq_hq_parse_request(p, len, fin, path, sizeof(path)) != 0)
    return;
  size_t l = strlen(path);
  if (path[0] != '/' || strstr(path, "/../") != NULL ||
      (l >= 3 && strcmp(path + l - 3, "/..") == 0))
    abort();
  n = p2pq_hq_format_request(path, line, sizeof(line));
  if (n < 0 || p2pq_hq_parse_request(line, (size_t)n, 0, again, sizeof(again)) != 0 ||
      strcmp(path, again) != 0)
    abort();
}

static void check_url(const uint8_t *p, size_t len) {
  p2pq_url u;
  if (p2pq_url_parse(p, len, &u) != 0)
    return;
  if (u.path[0] != '/' || (u.addr.family != 4 && u.addr.family != 6) || u.addr.port == 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy;
  if (size == 0)
    return 0;
  copy = malloc(size - 1 ? size - 1 : 1);
  if (copy == NULL)
    return 0;
  memcpy(copy, data + 1, size - 1);
  if (data[0] & 1)
    check_url(copy, size - 1);
  else
    check_request(copy, size - 1, (data[0] >> 1) & 1);
  free(copy);
  return 0;
}
