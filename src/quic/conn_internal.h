/* Connection state shared by the conn_*.c files. Not a public header. */
#ifndef P2PQ_QUIC_CONN_INTERNAL_H
#define P2PQ_QUIC_CONN_INTERNAL_H

#include <stdint.h>

#include "crypto/pp.h"
#include "crypto/suite.h"
#include "crypto/tls.h"
#include "p2pq/quic.h"
#include "quic/ackrange.h"
#include "quic/cid.h"
#include "quic/flowctl.h"
#include "quic/frame.h"
#include "quic/packet.h"
#include "quic/recovery.h"
#include "quic/recvbuf.h"
#include "quic/sendbuf.h"
#include "quic/stream.h"
#include "quic/streammap.h"
#include "quic/tparams.h"

#define P2PQ_MAX_PATHS 4
#define P2PQ_MAX_LOCAL_CIDS 8
#define P2PQ_MAX_PEER_CIDS 8
#define P2PQ_MIN_INITIAL_SIZE 1200
#define P2PQ_MAX_PKT 1500           /* largest datagram we build */
#define P2PQ_CRYPTO_RECV_MAX 65536  /* CRYPTO data buffered per level (RFC 9000 7.5) */
#define P2PQ_MAX_DGRAM_QUEUE 64

/* What a sent packet carried that may need retransmission or acknowledgment
 * processing. One record per frame, chained per packet, pooled per connection. */
enum {
  FREC_STREAM = 1,    /* id, off, len, fin */
  FREC_CRYPTO,        /* level(in id), off, len */
  FREC_HANDSHAKE_DONE,
  FREC_MAX_DATA,
  FREC_MAX_STREAM_DATA, /* id */
  FREC_MAX_STREAMS_BIDI,
  FREC_MAX_STREAMS_UNI,
  FREC_RESET_STREAM,  /* id */
  FREC_STOP_SENDING,  /* id */
  FREC_NEW_CID,       /* off = seq */
  FREC_RETIRE_CID,    /* off = seq */
  FREC_NEW_TOKEN,
  FREC_OBSERVED_ADDR, /* id = path id */
  FREC_ACK,           /* off = largest acked in the ACK we sent (for pruning) */
  FREC_DATA_BLOCKED,
  FREC_STREAM_DATA_BLOCKED, /* id */
  FREC_PING,
};

typedef struct p2pq_frec {
  struct p2pq_frec *next;
  uint8_t kind;
  uint8_t fin;
  uint64_t id;
  uint64_t off;
  uint64_t len;
} p2pq_frec;

typedef struct p2pq_pnspace {
  p2pq_sentq sent;
  uint64_t next_pn;
  /* receive side */
  p2pq_ackrange recv;
  uint64_t largest_recv;          /* UINT64_MAX: none */
  p2pq_tstamp largest_recv_time;
  uint32_t unacked_eliciting;     /* ack-eliciting packets since our last ACK */
  p2pq_tstamp ack_deadline;       /* P2PQ_TSTAMP_MAX: no ACK owed */
  int ack_now;                    /* send an ACK with the next packet */
  /* keys (the APP space uses the conn's key-phase state instead) */
  p2pq_pp_key rx, tx;
  int have_rx, have_tx;
  int discarded;
  /* CRYPTO stream of this level */
  p2pq_sendbuf crypto_tx;
  p2pq_recvbuf crypto_rx;
  int probe_pending;              /* PTO asked for probe packets here */
  uint64_t ecn_rx[3];             /* packets received with ECT(0), ECT(1), CE */
} p2pq_pnspace;

typedef struct p2pq_local_cid {
  p2pq_cid cid;
  uint64_t seq;
  uint8_t reset_token[16];
  int in_use;
  int advertise;                  /* NEW_CONNECTION_ID still to (re)send */
} p2pq_local_cid;

typedef struct p2pq_peer_cid {
  p2pq_cid cid;
  uint64_t seq;
  uint8_t reset_token[16];
  int has_token;
  int in_use;
  int path_id;                    /* -1: unused by any path */
  int used;                       /* we sent with it: its reset token counts */
} p2pq_peer_cid;

#define P2PQ_RETIRE_QUEUE 32

typedef struct p2pq_path {
  int in_use;
  uint16_t id;
  p2pq_addr local, remote;
  int validated;
  int is_active;
  /* validation we started */
  int challenge_pending;          /* send PATH_CHALLENGE */
  int challenge_outstanding;
  uint8_t challenge[8];
  uint8_t old_challenges[2][8];   /* earlier tries: their answers count too */
  p2pq_tstamp challenge_deadline;
  int challenge_tries;
  /* responses we owe (RFC 9000 8.2.2: on the path the challenge came on) */
  int response_pending;
  uint8_t response[8];
  /* anti-amplification (RFC 9000 8) */
  uint64_t bytes_recv, bytes_sent;
  p2pq_recovery rec;
  int peer_cid_index;             /* index into peer_cids */
  /* DPLPMTUD (RFC 8899) */
  size_t mtu;                     /* confirmed max UDP payload */
  size_t probe_size;              /* size in flight, 0 if none */
  uint64_t probe_pn;
  int probe_sent;
  int probe_fails;
  p2pq_tstamp next_probe_time;
  int pmtud_done;
  /* address discovery */
  int observed_pending;
  uint64_t observed_seq_sent;
  p2pq_addr observed_sent;        /* what we last told the peer about this path */
} p2pq_path;

typedef enum {
  CONN_HANDSHAKE = 0,
  CONN_ESTABLISHED,
  CONN_CLOSING,   /* we sent CONNECTION_CLOSE; resend it on incoming packets */
  CONN_DRAINING,  /* peer closed; send nothing */
  CONN_CLOSED,    /* terminal; waits for p2pq_conn_free */
} p2pq_conn_state;

typedef struct p2pq_dgram {
  size_t len;
  uint8_t *data;
} p2pq_dgram;

/* A server holds 1-RTT packets that arrive before its handshake completes
 * (RFC 9001 5.7) and replays them afterwards. */
#define P2PQ_MAX_EARLY_1RTT 8
typedef struct p2pq_held_pkt {
  uint8_t *data;
  size_t len;
  int ecn;
  p2pq_addr local, remote;
} p2pq_held_pkt;

struct p2pq_conn {
  p2pq_endpoint *ep;
  struct p2pq_conn *next_in_ep;    /* endpoint's list */
  void *user;
  int is_server;
  p2pq_conn_state state;
  uint32_t version;

  /* identity on the wire */
  p2pq_cid odcid;                  /* client's first DCID */
  p2pq_cid initial_dcid;           /* client: DCID of the current Initial keys */
  p2pq_cid retry_scid;             /* client: SCID of the Retry it accepted */
  int got_retry;
  uint8_t *token;                  /* client: Retry / NEW_TOKEN token for Initials */
  size_t token_len;
  p2pq_local_cid local_cids[P2PQ_MAX_LOCAL_CIDS];
  uint64_t next_local_seq;
  p2pq_peer_cid peer_cids[P2PQ_MAX_PEER_CIDS];
  uint64_t peer_retire_prior_to;
  int peer_cid_from_initial;       /* client: the server's SCID still to be learned */
  p2pq_cid handshake_scid;         /* client: the server's SCID, fixed after its first packet */

  /* paths */
  p2pq_path paths[P2PQ_MAX_PATHS];
  int active_path;
  uint16_t next_path_id;

  /* crypto */
  p2pq_tls *tls;
  p2pq_pnspace spaces[P2PQ_PNS_COUNT];
  p2pq_aead_alg app_alg;
  p2pq_pp_key app_rx[3];           /* by generation % 3: previous, current, next */
  p2pq_pp_key app_tx[2];           /* by key phase */
  int app_keys;                    /* 1-RTT keys installed */
  int key_phase;                   /* current phase (ours, for sending) */
  uint64_t rx_gen;                 /* generation of the current receive keys */
  uint64_t rx_gen_start_pn;        /* first packet number received with them */
  int rx_has_prev;                 /* previous generation still accepted */
  uint64_t key_phase_start_pn;     /* first pn sent in the current phase */
  int phase_acked;                 /* a packet of the current phase was acknowledged */
  p2pq_tstamp prev_rx_discard_time;/* drop old rx keys after 3 PTO */
  uint64_t pkts_protected;         /* with current tx keys (AEAD limits) */
  uint64_t decrypt_failures;
  int handshake_complete;          /* TLS done */
  int handshake_confirmed;         /* RFC 9001 4.1.2 */
  int handshake_done_pending;
  int peer_address_validated;      /* client: server validated our address */
  int client_sent_handshake;       /* client: Initial keys can go (RFC 9001 4.9.1) */

  /* transport parameters */
  p2pq_tparams local_tp, peer_tp;
  int have_peer_tp;

  /* streams and flow control */
  p2pq_streammap streams;          /* also holds connection-level flow control */

  /* pending control frames */
  int ping_pending;
  int new_token_pending;
  uint64_t retire_q[P2PQ_RETIRE_QUEUE]; /* RETIRE_CONNECTION_ID seqs to (re)send */
  size_t retire_n;

  /* DATAGRAM frames */
  p2pq_dgram dgram_rx[P2PQ_MAX_DGRAM_QUEUE];
  size_t dgram_rx_head, dgram_rx_n;
  p2pq_dgram dgram_tx[P2PQ_MAX_DGRAM_QUEUE];
  size_t dgram_tx_head, dgram_tx_n;

  p2pq_held_pkt held[P2PQ_MAX_EARLY_1RTT];
  size_t n_held;

  /* address discovery */
  p2pq_addr observed;              /* what the peer told us, newest */
  uint64_t observed_seq;           /* highest seq received (+1; 0 = none) */
  uint64_t observed_tx_seq;        /* OBSERVED_ADDRESS frames we numbered */

  /* timers */
  p2pq_tstamp idle_deadline;
  p2pq_tstamp handshake_deadline;
  p2pq_tstamp close_deadline;      /* closing/draining end */
  p2pq_tstamp last_activity;
  p2pq_tstamp last_now;            /* the latest time the caller gave us */
  p2pq_tstamp timer_cache;         /* p2pq_conn_next_timeout, valid unless dirty */
  int timer_dirty;                 /* something happened that may move the timer */

  /* close */
  int close_app;
  uint64_t close_code;
  uint64_t close_frame_type;
  char close_reason[64];
  int close_pending;               /* (re)send CONNECTION_CLOSE */
  uint32_t close_rx, close_sent;   /* closing: datagrams seen, closes sent */
  int close_error;                 /* P2PQ_ERR_* given to the app */
  int closed_event_sent;

  /* retransmittable-frame records */
  p2pq_frec *frec_free;
  void *frec_blocks;               /* list of allocated blocks */

  /* stats */
  p2pq_conn_stats stats;
  int qlog;
  p2pq_tstamp qlog_ref;
};

/* Every entry point that changes a connection marks its timer for
 * recomputation, so the endpoint need not recompute every connection's. */
#define P2PQ_CONN_TOUCH(c) ((c)->timer_dirty = 1)

/* conn.c */
p2pq_conn *p2pq_conn_alloc(p2pq_endpoint *ep, int is_server, p2pq_tstamp now);
void p2pq_conn_push_event(p2pq_conn *c, p2pq_event_type t, uint64_t stream_id,
                          uint64_t code, const p2pq_addr *addr);
void p2pq_conn_set_error(p2pq_conn *c, int err, uint64_t frame_type, const char *reason,
                         p2pq_tstamp now);
void p2pq_conn_enter_draining(p2pq_conn *c, int err, p2pq_tstamp now);
p2pq_tstamp p2pq_conn_pto(const p2pq_conn *c);
p2pq_tstamp p2pq_conn_next_timeout(p2pq_conn *c);
void p2pq_conn_on_timeout(p2pq_conn *c, p2pq_tstamp now);
void p2pq_conn_touch_idle(p2pq_conn *c, p2pq_tstamp now);
p2pq_frec *p2pq_frec_get(p2pq_conn *c);
/* Records a frame on the packet being built (head: its chain). */
int p2pq_frec_add(p2pq_conn *c, p2pq_frec **head, uint8_t kind, uint64_t id, uint64_t off,
                  uint64_t len, int fin);
void p2pq_conn_on_acked(void *user, const p2pq_sentpkt *pkt);
void p2pq_conn_on_lost(void *user, const p2pq_sentpkt *pkt);
void p2pq_frec_put_chain(p2pq_conn *c, p2pq_frec *f);
void p2pq_conn_recovery_env(p2pq_conn *c, p2pq_recovery_env *env);
int p2pq_conn_derive_initial(p2pq_conn *c, const p2pq_cid *dcid);
void p2pq_conn_discard_space(p2pq_conn *c, int space, p2pq_tstamp now);
uint64_t p2pq_conn_wire_error(int err);

/* conn_tls.c */
int p2pq_conn_tls_init(p2pq_conn *c, const char *sni);
int p2pq_conn_tls_feed(p2pq_conn *c, int space, p2pq_tstamp now);
void p2pq_conn_build_local_tp(p2pq_conn *c);

/* conn_recv.c */
int p2pq_conn_on_udp(p2pq_conn *c, uint8_t *data, size_t len, const p2pq_addr *local,
                     const p2pq_addr *remote, int ecn, p2pq_tstamp now);

/* conn_send.c */
/* Builds one datagram for this connection; returns its length or 0. */
int p2pq_conn_write_datagram(p2pq_conn *c, uint8_t *buf, size_t cap, p2pq_tx *tx,
                             p2pq_tstamp now);
/* When the pacer holds back data that congestion control would allow. */
p2pq_tstamp p2pq_conn_pacing_deadline(p2pq_conn *c);

/* conn_path.c */
int p2pq_path_find(p2pq_conn *c, const p2pq_addr *local, const p2pq_addr *remote);
int p2pq_path_new(p2pq_conn *c, const p2pq_addr *local, const p2pq_addr *remote,
                  p2pq_tstamp now);
void p2pq_path_free(p2pq_conn *c, int idx);
void p2pq_path_start_validation(p2pq_conn *c, int idx, p2pq_tstamp now);
void p2pq_path_on_response(p2pq_conn *c, int idx, const uint8_t data[8], p2pq_tstamp now);
void p2pq_path_on_timeout(p2pq_conn *c, p2pq_tstamp now);
p2pq_tstamp p2pq_path_next_timeout(const p2pq_conn *c);
void p2pq_path_set_active(p2pq_conn *c, int idx, p2pq_tstamp now);
int p2pq_cid_issue(p2pq_conn *c, p2pq_tstamp now);
int p2pq_cid_on_new(p2pq_conn *c, const p2pq_frame *f);
int p2pq_cid_queue_retire(p2pq_conn *c, uint64_t seq);
int p2pq_cid_on_retire(p2pq_conn *c, uint64_t seq, const p2pq_cid *pkt_dcid);
int p2pq_cid_pick_for_path(p2pq_conn *c, int path_idx);
int p2pq_cid_any_advertise(const p2pq_conn *c);
void p2pq_path_observe(p2pq_conn *c, int idx);
size_t p2pq_pmtud_next_size(const p2pq_conn *c, int idx);
void p2pq_pmtud_start_probe(p2pq_conn *c, int idx);
const p2pq_cid *p2pq_conn_dcid(const p2pq_conn *c, int path_idx);
const p2pq_cid *p2pq_conn_scid(const p2pq_conn *c);
void p2pq_pmtud_on_ack(p2pq_conn *c, int path_idx, uint64_t pn);
void p2pq_pmtud_on_lost(p2pq_conn *c, int path_idx, uint64_t pn);

/* endpoint.c (what the connection needs of its endpoint) */
void p2pq_ep_random(p2pq_endpoint *ep, uint8_t *out, size_t len);
const p2pq_config *p2pq_ep_config(const p2pq_endpoint *ep);
int p2pq_ep_register_cid(p2pq_endpoint *ep, const p2pq_cid *cid, p2pq_conn *c);
void p2pq_ep_unregister_cid(p2pq_endpoint *ep, const p2pq_cid *cid);
void p2pq_ep_push_event(p2pq_endpoint *ep, const p2pq_event *ev);
void p2pq_ep_detach(p2pq_endpoint *ep, p2pq_conn *c);
void p2pq_ep_reset_token(p2pq_endpoint *ep, const p2pq_cid *cid, uint8_t token[16]);

#endif
