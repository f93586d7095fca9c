/* QPACK through nghttp3's standalone encoder/decoder API (see qpack.h). */
#include "h3/qpack.h"

#include <nghttp3/nghttp3.h>
#include <stdlib.h>

#include "p2pq/error.h"

struct p2pq_h3_qenc {
  nghttp3_qpack_encoder *enc;
};
struct p2pq_h3_qdec {
  nghttp3_qpack_decoder *dec;
};
struct p2pq_h3_qsec {
  nghttp3_qpack_stream_context *sctx;
  size_t off; /* bytes of the section already consumed */
};

int p2pq_h3_qenc_new(p2pq_h3_qenc **out, uint64_t hard_max) {
  p2pq_h3_qenc *e = calloc(1, sizeof *e);
  if (!e)
    return P2PQ_ERR_NOMEM;
  if (nghttp3_qpack_encoder_new(&e->enc, (size_t)hard_max, nghttp3_mem_default()) != 0) {
    free(e);
    return P2PQ_ERR_NOMEM;
  }
  *out = e;
  return 0;
}

void p2pq_h3_qenc_free(p2pq_h3_qenc *e) {
  if (!e)
    return;
  nghttp3_qpack_encoder_del(e->enc);
  free(e);
}

void p2pq_h3_qenc_set_peer(p2pq_h3_qenc *e, uint64_t capacity, uint64_t blocked) {
  /* nghttp3 clamps the capacity to the hard maximum given at creation */
  nghttp3_qpack_encoder_set_max_dtable_capacity(e->enc, capacity > SIZE_MAX ? SIZE_MAX
                                                                            : (size_t)capacity);
  nghttp3_qpack_encoder_set_max_blocked_streams(e->enc, blocked > SIZE_MAX ? SIZE_MAX
                                                                           : (size_t)blocked);
}

static int take_buf(nghttp3_buf *b, p2pq_h3_bytes *dst) {
  int rc = p2pq_h3_bytes_append(dst, b->pos, (size_t)(b->last - b->pos));
  nghttp3_buf_free(b, nghttp3_mem_default());
  return rc;
}

int p2pq_h3_qenc_encode(p2pq_h3_qenc *e, int64_t stream_id, const p2pq_h3_field *f, size_t n,
                        p2pq_h3_bytes *section, p2pq_h3_bytes *encstream) {
  nghttp3_nv *nv = calloc(n ? n : 1, sizeof *nv);
  nghttp3_buf pb, rb, eb;
  size_t i;
  int rc, rc2, rc3;
  if (!nv)
    return P2PQ_ERR_NOMEM;
  for (i = 0; i < n; i++) {
    nv[i].name = (uint8_t *)f[i].name;
    nv[i].namelen = f[i].name_len;
    nv[i].value = (uint8_t *)f[i].value;
    nv[i].valuelen = f[i].value_len;
    nv[i].flags = NGHTTP3_NV_FLAG_NONE;
  }
  nghttp3_buf_init(&pb);
  nghttp3_buf_init(&rb);
  nghttp3_buf_init(&eb);
  rc = nghttp3_qpack_encoder_encode(e->enc, &pb, &rb, &eb, stream_id, nv, n);
  free(nv);
  rc = rc != 0 ? P2PQ_ERR_NOMEM : 0;
  /* the prefix, then the field lines (RFC 9204 4.5) */
  rc2 = take_buf(&pb, section);
  rc3 = take_buf(&rb, section);
  if (!rc)
    rc = rc2 ? rc2 : rc3;
  rc2 = take_buf(&eb, encstream);
  return rc ? rc : rc2;
}

int p2pq_h3_qenc_read_decoder(p2pq_h3_qenc *e, const uint8_t *p, size_t len, uint64_t *h3_err) {
  nghttp3_ssize n = nghttp3_qpack_encoder_read_decoder(e->enc, p, len);
  if (n == NGHTTP3_ERR_NOMEM)
    return P2PQ_ERR_NOMEM;
  if (n < 0 || (size_t)n != len) {
    *h3_err = P2PQ_H3_QPACK_DECODER_STREAM_ERROR;
    return P2PQ_ERR_H3;
  }
  return 0;
}

int p2pq_h3_qdec_new(p2pq_h3_qdec **out, uint64_t capacity, uint64_t blocked) {
  p2pq_h3_qdec *d = calloc(1, sizeof *d);
  if (!d)
    return P2PQ_ERR_NOMEM;
  if (capacity > SIZE_MAX || blocked > SIZE_MAX ||
      nghttp3_qpack_decoder_new(&d->dec, (size_t)capacity, (size_t)blocked,
                                nghttp3_mem_default()) != 0) {
    free(d);
    return P2PQ_ERR_NOMEM;
  }
  *out = d;
  return 0;
}

void p2pq_h3_qdec_free(p2pq_h3_qdec *d) {
  if (!d)
    return;
  nghttp3_qpack_decoder_del(d->dec);
  free(d);
}

int p2pq_h3_qdec_read_encoder(p2pq_h3_qdec *d, const uint8_t *p, size_t len, uint64_t *h3_err) {
  nghttp3_ssize n = nghttp3_qpack_decoder_read_encoder(d->dec, p, len);
  if (n == NGHTTP3_ERR_NOMEM)
    return P2PQ_ERR_NOMEM;
  if (n < 0 || (size_t)n != len) {
    *h3_err = P2PQ_H3_QPACK_ENCODER_STREAM_ERROR;
    return P2PQ_ERR_H3;
  }
  return 0;
}

void p2pq_h3_qsec_free(p2pq_h3_qsec *sec) {
  if (!sec)
    return;
  nghttp3_qpack_stream_context_del(sec->sctx);
  free(sec);
}

static int qsec_get(p2pq_h3_qsec **sec, int64_t stream_id) {
  if (*sec)
    return 0;
  *sec = calloc(1, sizeof **sec);
  if (!*sec)
    return P2PQ_ERR_NOMEM;
  if (nghttp3_qpack_stream_context_new(&(*sec)->sctx, stream_id, nghttp3_mem_default()) != 0) {
    free(*sec);
    *sec = NULL;
    return P2PQ_ERR_NOMEM;
  }
  return 0;
}

static int emit(const nghttp3_qpack_nv *nv, p2pq_h3_fields *out) {
  nghttp3_vec n = nghttp3_rcbuf_get_buf(nv->name), v = nghttp3_rcbuf_get_buf(nv->value);
  int rc = p2pq_h3_fields_add(out, n.base, n.len, v.base, v.len);
  nghttp3_rcbuf_decref(nv->name);
  nghttp3_rcbuf_decref(nv->value);
  return rc;
}

static int dec_fail(p2pq_h3_qsec **sec, uint64_t *h3_err, uint64_t code) {
  p2pq_h3_qsec_free(*sec);
  *sec = NULL;
  *h3_err = code;
  return P2PQ_ERR_H3;
}

int p2pq_h3_qdec_decode(p2pq_h3_qdec *d, int64_t stream_id, p2pq_h3_qsec **sec,
                        const uint8_t *p, size_t len, uint64_t max_size, p2pq_h3_fields *out,
                        uint64_t *h3_err) {
  int rc = qsec_get(sec, stream_id);
  if (rc < 0)
    return rc;
  for (;;) {
    nghttp3_qpack_nv nv;
    uint8_t flags = 0;
    nghttp3_ssize n = nghttp3_qpack_decoder_read_request(d->dec, (*sec)->sctx, &nv, &flags,
                                                         p + (*sec)->off, len - (*sec)->off, 1);
    if (n == NGHTTP3_ERR_NOMEM)
      return P2PQ_ERR_NOMEM;
    if (n == NGHTTP3_ERR_QPACK_HEADER_TOO_LARGE)
      return dec_fail(sec, h3_err, P2PQ_H3_EXCESSIVE_LOAD);
    if (n < 0)
      return dec_fail(sec, h3_err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
    (*sec)->off += (size_t)n;
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
      if ((rc = emit(&nv, out)) < 0)
        return rc;
      if (out->size > max_size)
        return dec_fail(sec, h3_err, P2PQ_H3_EXCESSIVE_LOAD);
    }
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) {
      p2pq_h3_qsec_free(*sec);
      *sec = NULL;
      return 0;
    }
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED)
      return 1;
    if (n == 0 && !(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT))
      return dec_fail(sec, h3_err, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
  }
}

void p2pq_h3_qdec_cancel(p2pq_h3_qdec *d, int64_t stream_id) {
  nghttp3_qpack_decoder_cancel_stream(d->dec, stream_id);
}

int p2pq_h3_qdec_flush(p2pq_h3_qdec *d, p2pq_h3_bytes *decstream) {
  size_t n = nghttp3_qpack_decoder_get_decoder_streamlen(d->dec);
  nghttp3_buf b;
  uint8_t *tmp;
  int rc;
  if (n == 0)
    return 0;
  tmp = malloc(n);
  if (!tmp)
    return P2PQ_ERR_NOMEM;
  b.begin = b.pos = b.last = tmp;
  b.end = tmp + n;
  nghttp3_qpack_decoder_write_decoder(d->dec, &b);
  rc = p2pq_h3_bytes_append(decstream, b.pos, (size_t)(b.last - b.pos));
  free(tmp);
  return rc;
}

uint64_t p2pq_h3_qdec_insert_count(const p2pq_h3_qdec *d) {
  return nghttp3_qpack_decoder_get_icnt(d->dec);
}
