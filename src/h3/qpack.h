/* QPACK (RFC 9204) encoder and decoder: a thin wrapper over Debian's nghttp3
 * QPACK implementation (static table, Huffman, dynamic tables), translating its
 * errors to H3 error codes and its buffers to ours. */
#ifndef P2PQ_H3_QPACK_H
#define P2PQ_H3_QPACK_H

#include "h3/bytes.h"

typedef struct p2pq_h3_qenc p2pq_h3_qenc;
typedef struct p2pq_h3_qdec p2pq_h3_qdec;
/* Per-stream decoding state of a field section (kept while blocked). */
typedef struct p2pq_h3_qsec p2pq_h3_qsec;

/* hard_max: the largest dynamic table this encoder will ever use (0 = static only). */
int p2pq_h3_qenc_new(p2pq_h3_qenc **out, uint64_t hard_max);
void p2pq_h3_qenc_free(p2pq_h3_qenc *e);
/* From the peer's SETTINGS: its decoder's table capacity and blocked streams. */
void p2pq_h3_qenc_set_peer(p2pq_h3_qenc *e, uint64_t capacity, uint64_t blocked);
/* Appends the encoded field section to *section and any encoder instructions to
 * *encstream. */
int p2pq_h3_qenc_encode(p2pq_h3_qenc *e, int64_t stream_id, const p2pq_h3_field *f, size_t n,
                        p2pq_h3_bytes *section, p2pq_h3_bytes *encstream);
/* Decoder-stream input. P2PQ_ERR_H3 with *h3_err = QPACK_DECODER_STREAM_ERROR. */
int p2pq_h3_qenc_read_decoder(p2pq_h3_qenc *e, const uint8_t *p, size_t len, uint64_t *h3_err);

/* capacity/blocked: what we advertised in SETTINGS. */
int p2pq_h3_qdec_new(p2pq_h3_qdec **out, uint64_t capacity, uint64_t blocked);
void p2pq_h3_qdec_free(p2pq_h3_qdec *d);
/* Encoder-stream input. P2PQ_ERR_H3 with *h3_err = QPACK_ENCODER_STREAM_ERROR. */
int p2pq_h3_qdec_read_encoder(p2pq_h3_qdec *d, const uint8_t *p, size_t len, uint64_t *h3_err);
/* Decodes the whole field section p[0..len) of stream_id into *out; *sec holds
 * the progress (NULL at first; freed when done or with p2pq_h3_qsec_free).
 * Returns 0 when decoded, 1 when blocked on the encoder stream (call again with
 * the same arguments later), P2PQ_ERR_H3 with *h3_err =
 * QPACK_DECOMPRESSION_FAILED (connection error) or H3_EXCESSIVE_LOAD when the
 * decoded section exceeds max_size (a stream error). */
int p2pq_h3_qdec_decode(p2pq_h3_qdec *d, int64_t stream_id, p2pq_h3_qsec **sec,
                        const uint8_t *p, size_t len, uint64_t max_size, p2pq_h3_fields *out,
                        uint64_t *h3_err);
void p2pq_h3_qsec_free(p2pq_h3_qsec *sec);
/* Stream Cancellation for a stream abandoned mid-section (RFC 9204 4.4.2). */
void p2pq_h3_qdec_cancel(p2pq_h3_qdec *d, int64_t stream_id);
/* Appends pending decoder-stream instructions (acks, increments, cancels). */
int p2pq_h3_qdec_flush(p2pq_h3_qdec *d, p2pq_h3_bytes *decstream);
/* Entries inserted so far (for tests). */
uint64_t p2pq_h3_qdec_insert_count(const p2pq_h3_qdec *d);

#endif
