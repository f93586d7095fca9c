/* Basic types shared by every p2pquic layer. */
#ifndef P2PQ_TYPES_H
#define P2PQ_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Time in nanoseconds on a monotonic clock chosen by the caller. The core never
 * reads a clock: every call that needs "now" takes one. */
typedef uint64_t p2pq_tstamp;
#define P2PQ_TSTAMP_MAX UINT64_MAX
#define P2PQ_NS 1ull
#define P2PQ_US 1000ull
#define P2PQ_MS 1000000ull
#define P2PQ_S 1000000000ull

/* Randomness comes in through this callback (the simulator seeds it). Must fill
 * all of out[0..len). */
typedef void (*p2pq_rand_fn)(void *user, uint8_t *out, size_t len);

/* A transport address: IPv4 or IPv6 plus port, in a form that needs no socket
 * headers. ip holds 4 bytes (family 4) or 16 bytes (family 6); port is host order. */
typedef struct p2pq_addr {
  uint8_t family; /* 0 = unset, 4 or 6 */
  uint16_t port;
  uint8_t ip[16];
} p2pq_addr;

#define P2PQ_ADDR_STRLEN 48 /* "[ffff:...:ffff]:65535" plus NUL */

/* Build addresses. Return 0 or P2PQ_ERR_*. */
void p2pq_addr_v4(p2pq_addr *a, const uint8_t ip[4], uint16_t port);
void p2pq_addr_v6(p2pq_addr *a, const uint8_t ip[16], uint16_t port);
/* Parses "1.2.3.4:5", "[::1]:5", and (port optional) "1.2.3.4" / "::1" when
 * default_port >= 0. */
int p2pq_addr_parse(p2pq_addr *a, const char *s, int default_port);
/* Writes "1.2.3.4:5" or "[::1]:5"; returns out. */
char *p2pq_addr_format(const p2pq_addr *a, char *out, size_t cap);
int p2pq_addr_equal(const p2pq_addr *a, const p2pq_addr *b);
int p2pq_addr_equal_ip(const p2pq_addr *a, const p2pq_addr *b);
size_t p2pq_addr_iplen(const p2pq_addr *a);

/* Conversions to and from struct sockaddr (defined in <sys/socket.h>). */
struct sockaddr;
int p2pq_addr_from_sockaddr(p2pq_addr *a, const struct sockaddr *sa);
/* Returns the sockaddr length written into ss (which must hold a sockaddr_storage). */
size_t p2pq_addr_to_sockaddr(const p2pq_addr *a, void *ss);

#ifdef __cplusplus
}
#endif
#endif
