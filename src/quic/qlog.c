/* qlog (draft-ietf-quic-qlog-main-schema / quic-events, JSON-SEQ, RFC 7464):
 * one record per event handed to the config's qlog hook. Formatting happens only
 * when qlog is on for the connection. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "quic/conn_internal.h"
#include "quic/qlog.h"

typedef struct jbuf {
  char *p;
  size_t cap, len;
} jbuf;

static void jb_printf(jbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  if (b->len >= b->cap)
    return;
  va_start(ap, fmt);
  n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap;
}

static void jb_hex(jbuf *b, const uint8_t *d, size_t n) {
  for (size_t i = 0; i < n; i++)
    jb_printf(b, "%02x", d[i]);
}

static void jb_addr(jbuf *b, const p2pq_addr *a) {
  char s[P2PQ_ADDR_STRLEN];
  jb_printf(b, "\"%s\"", p2pq_addr_format(a, s, sizeof(s)));
}

static double rel_ms(const p2pq_conn *c, p2pq_tstamp now) {
  return now >= c->qlog_ref ? (double)(now - c->qlog_ref) / 1e6 : 0.0;
}

static void emit(p2pq_conn *c, jbuf *b) {
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  if (b->len + 2 > b->cap)
    b->len = b->cap - 2; /* truncated record still ends the sequence cleanly */
  b->p[b->len++] = '\n';
  b->p[b->len] = '\0';
  cfg->qlog(cfg->hook_user, c, b->p, b->len);
}

static void begin_event(jbuf *b, p2pq_conn *c, const char *name, p2pq_tstamp now) {
  b->len = 0;
  b->p[b->len++] = 0x1e; /* RS */
  jb_printf(b, "{\"time\":%.3f,\"name\":\"%s\",\"data\":{", rel_ms(c, now), name);
}

#define QLOG_BUF 8192

void p2pq_qlog_start(p2pq_conn *c, p2pq_tstamp now) {
  char mem[QLOG_BUF];
  jbuf b = {mem, sizeof(mem) - 1, 0};
  if (!c->qlog)
    return;
  c->qlog_ref = now;
  b.p[b.len++] = 0x1e;
  jb_printf(&b,
            "{\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"title\":\"p2pquic\","
            "\"trace\":{\"vantage_point\":{\"name\":\"p2pquic\",\"type\":\"%s\"},"
            "\"common_fields\":{\"ODCID\":\"",
            c->is_server ? "server" : "client");
  jb_hex(&b, c->odcid.data, c->odcid.len);
  jb_printf(&b, "\",\"time_format\":\"relative\",\"reference_time\":%.3f}}}",
            (double)now / 1e6);
  emit(c, &b);
}

static const char *pkt_type_name(int space) {
  return space == P2PQ_PNS_INITIAL ? "initial" : space == P2PQ_PNS_HANDSHAKE ? "handshake"
                                                                              : "1RTT";
}

static void frame_json(jbuf *b, const p2pq_frame *f) {
  uint64_t t = f->type;
  jb_printf(b, "{\"frame_type\":\"%s\"", p2pq_frame_name(t));
  if (t >= P2PQ_FT_STREAM && t <= (P2PQ_FT_STREAM | 7)) {
    jb_printf(b, ",\"stream_id\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"length\":%zu,\"fin\":%s",
              f->u.stream.stream_id, f->u.stream.offset, f->u.stream.len,
              f->u.stream.fin ? "true" : "false");
  } else if (t == P2PQ_FT_ACK || t == P2PQ_FT_ACK_ECN) {
    p2pq_ack_iter it;
    uint64_t lo, hi;
    int first = 1;
    jb_printf(b, ",\"ack_delay\":%" PRIu64 ",\"acked_ranges\":[", f->u.ack.ack_delay);
    p2pq_ack_iter_init(&it, f);
    for (int n = 0; n < 32 && p2pq_ack_iter_next(&it, &lo, &hi) == 1; n++) {
      jb_printf(b, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", lo, hi);
      first = 0; /* at most 32 ranges (< 1.5 KB), so a record always closes */
    }
    jb_printf(b, "]");
  } else if (t == P2PQ_FT_CRYPTO) {
    jb_printf(b, ",\"offset\":%" PRIu64 ",\"length\":%zu", f->u.crypto.offset, f->u.crypto.len);
  } else if (t == P2PQ_FT_MAX_DATA) {
    jb_printf(b, ",\"maximum\":%" PRIu64, f->u.max_data.max);
  } else if (t == P2PQ_FT_MAX_STREAM_DATA) {
    jb_printf(b, ",\"stream_id\":%" PRIu64 ",\"maximum\":%" PRIu64,
              f->u.max_stream_data.stream_id, f->u.max_stream_data.max);
  } else if (t == P2PQ_FT_CONNECTION_CLOSE || t == P2PQ_FT_CONNECTION_CLOSE_APP) {
    jb_printf(b, ",\"error_space\":\"%s\",\"error_code\":%" PRIu64,
              f->u.close.app ? "application" : "transport", f->u.close.error_code);
  } else if (t == P2PQ_FT_NEW_CONNECTION_ID) {
    jb_printf(b, ",\"sequence_number\":%" PRIu64 ",\"connection_id\":\"", f->u.new_cid.seq);
    jb_hex(b, f->u.new_cid.cid.data, f->u.new_cid.cid.len);
    jb_printf(b, "\"");
  } else if (t == P2PQ_FT_PATH_CHALLENGE || t == P2PQ_FT_PATH_RESPONSE) {
    jb_printf(b, ",\"data\":\"");
    jb_hex(b, f->u.path.data, 8);
    jb_printf(b, "\"");
  } else if (t == P2PQ_FT_PADDING) {
    jb_printf(b, ",\"length\":%zu", f->u.padding_len);
  } else if (t == P2PQ_FT_OBSERVED_ADDRESS_V4 || t == P2PQ_FT_OBSERVED_ADDRESS_V6) {
    jb_printf(b, ",\"sequence_number\":%" PRIu64 ",\"address\":", f->u.observed_address.seq);
    jb_addr(b, &f->u.observed_address.addr);
  } else if (t == P2PQ_FT_DATAGRAM || t == P2PQ_FT_DATAGRAM_LEN) {
    jb_printf(b, ",\"length\":%zu", f->u.datagram.len);
  }
  jb_printf(b, "}");
}

void p2pq_qlog_packet(p2pq_conn *c, int sent, int space, uint64_t pn, size_t size,
                      const uint8_t *payload, size_t payload_len, p2pq_tstamp now) {
  char mem[QLOG_BUF];
  jbuf b = {mem, sizeof(mem) - 1, 0};
  p2pq_rd r;
  p2pq_frame f;
  int first = 1;
  if (!c->qlog)
    return;
  begin_event(&b, c, sent ? "transport:packet_sent" : "transport:packet_received", now);
  jb_printf(&b,
            "\"header\":{\"packet_type\":\"%s\",\"packet_number\":%" PRIu64
            "},\"raw\":{\"length\":%zu},\"frames\":[",
            pkt_type_name(space), pn, size);
  p2pq_rd_init(&r, payload, payload_len);
  while (p2pq_rd_left(&r) > 0 && p2pq_frame_decode(&r, &f) == 0) {
    /* keep room to close the record: a long frame list is cut, not the JSON */
    if (b.len > b.cap - 2048) {
      jb_printf(&b, "%s{\"frame_type\":\"unknown\",\"truncated\":true}", first ? "" : ",");
      break;
    }
    if (!first)
      jb_printf(&b, ",");
    frame_json(&b, &f);
    first = 0;
  }
  jb_printf(&b, "]}}");
  emit(c, &b);
}

void p2pq_qlog_metrics(p2pq_conn *c, p2pq_tstamp now) {
  char mem[512];
  jbuf b = {mem, sizeof(mem) - 1, 0};
  const p2pq_recovery *rec;
  if (!c->qlog)
    return;
  rec = &c->paths[c->active_path].rec;
  begin_event(&b, c, "recovery:metrics_updated", now);
  jb_printf(&b,
            "\"min_rtt\":%.3f,\"smoothed_rtt\":%.3f,\"latest_rtt\":%.3f,\"rtt_variance\":%.3f,"
            "\"congestion_window\":%" PRIu64 ",\"bytes_in_flight\":%" PRIu64 "}}",
            (double)rec->rtt.min_rtt / 1e6, (double)rec->rtt.smoothed / 1e6,
            (double)rec->rtt.latest / 1e6, (double)rec->rtt.rttvar / 1e6,
            p2pq_recovery_cwnd(rec), p2pq_recovery_bytes_in_flight(rec));
  emit(c, &b);
}

void p2pq_qlog_packet_lost(p2pq_conn *c, int space, uint64_t pn, p2pq_tstamp now) {
  char mem[256];
  jbuf b = {mem, sizeof(mem) - 1, 0};
  if (!c->qlog)
    return;
  begin_event(&b, c, "recovery:packet_lost", now);
  jb_printf(&b, "\"header\":{\"packet_type\":\"%s\",\"packet_number\":%" PRIu64 "}}}",
            pkt_type_name(space), pn);
  emit(c, &b);
}

void p2pq_qlog_note(p2pq_conn *c, const char *name, const char *json_fields, p2pq_tstamp now) {
  char mem[1024];
  jbuf b = {mem, sizeof(mem) - 1, 0};
  if (!c->qlog)
    return;
  begin_event(&b, c, name, now);
  jb_printf(&b, "%s}}", json_fields ? json_fields : "");
  emit(c, &b);
}

void p2pq_qlog_path(p2pq_conn *c, const char *name, const p2pq_addr *local,
                    const p2pq_addr *remote, p2pq_tstamp now) {
  char mem[512];
  jbuf b = {mem, sizeof(mem) - 1, 0};
  if (!c->qlog)
    return;
  begin_event(&b, c, name, now);
  jb_printf(&b, "\"local\":");
  jb_addr(&b, local);
  jb_printf(&b, ",\"remote\":");
  jb_addr(&b, remote);
  jb_printf(&b, "}}");
  emit(c, &b);
}
