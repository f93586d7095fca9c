/* hq-interop (HTTP/0.9 over QUIC, as used by the QUIC interop runner) request
 * lines, and the https://HOST:PORT/path URLs the p2pquic tool fetches. */
#ifndef P2PQ_IO_HQ_H
#define P2PQ_IO_HQ_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_HQ_PATH_MAX 1024
#define P2PQ_URL_HOST_MAX 256

/* Parses "GET /path\r\n" (a bare "\n" also ends the line; with fin, the end of
 * the stream does too). The path is copied NUL-terminated into path. Returns
 * 0, P2PQ_ERR_TRUNCATED before the line is complete, P2PQ_ERR_MALFORMED for
 * anything else (other methods, a path not starting with '/', bytes outside
 * printable ASCII, '\\', a ".." segment that would leave the served root),
 * P2PQ_ERR_NOBUF when the path does not fit in cap. */
int p2pq_hq_parse_request(const uint8_t *p, size_t len, int fin, char *path, size_t cap);

/* Writes "GET <path>\r\n"; returns its length or P2PQ_ERR_NOBUF. */
int p2pq_hq_format_request(const char *path, uint8_t *out, size_t cap);

typedef struct p2pq_url {
  p2pq_addr addr;                /* host as an address (localhost: 127.0.0.1) */
  char host[P2PQ_URL_HOST_MAX];  /* as written, without brackets */
  char path[P2PQ_HQ_PATH_MAX];   /* "/" when the URL has none */
} p2pq_url;

/* Parses "https://HOST[:PORT][/path]" with HOST an IPv4 literal, a bracketed
 * IPv6 literal or "localhost"; port 443 when absent. Errors:
 * P2PQ_ERR_MALFORMED, P2PQ_ERR_UNSUPPORTED (another scheme, or a host name
 * that would need DNS), P2PQ_ERR_NOBUF (path or host too long). */
int p2pq_url_parse(const uint8_t *p, size_t len, p2pq_url *u);

#endif
