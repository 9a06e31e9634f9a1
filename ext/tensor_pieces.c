/*
** tensor_pieces.c: storing a typed tensor (any ggml type) in llm_weights,
** piece by piece: piece 0 with its shape and dtype in llm_weights, the
** rest in llm_weight_parts, each zstd-compressed and at most the writer's
** piece size (half the connection's BLOB limit, at most 256 MB, in whole
** blocks of the type). GGUF imports and llm_quantize write through it;
** ext/gguf_model.c reads the pieces back.
*/
#include <string.h>

#include "kernels/qtypes.h"
#include "ext.h"

#define PIECE_MAX ((uint64_t)256 << 20)

int llm_pieces_open(llm_pieces *p, llm_conn *c, const char *model, uint64_t biggest, llm_err *err) {
  memset(p, 0, sizeof *p);
  p->c = c;
  p->model = model;
  uint64_t limit = (uint64_t)sqlite3_limit(c->db, SQLITE_LIMIT_LENGTH, -1) / 2;
  p->piece = limit < PIECE_MAX ? limit : PIECE_MAX;
  if (p->piece > biggest) p->piece = biggest; /* (a small model needs no big buffer) */
  if (p->piece < 4096) p->piece = 4096;
  if (sqlite3_prepare_v2(c->db,
                         "INSERT INTO llm_weights(model, role, name, shape, dtype, data) VALUES (?1, 'param', ?2, ?3, "
                         "?4, ?5)",
                         -1, &p->ins, 0) != SQLITE_OK ||
      sqlite3_prepare_v2(c->db,
                         "INSERT INTO llm_weight_parts(model, role, name, part, data) VALUES (?1, 'param', ?2, ?3, ?4)",
                         -1, &p->ins_part, 0) != SQLITE_OK) {
    llm_pieces_close(p);
    return llm_db_fail(c, err, "cannot write llm_weights");
  }
  return LLM_OK;
}

void llm_pieces_close(llm_pieces *p) {
  sqlite3_finalize(p->ins);
  sqlite3_finalize(p->ins_part);
  p->ins = p->ins_part = NULL;
}

uint64_t llm_pieces_size(const llm_pieces *p, uint32_t type) {
  const llm_qtype *q = llm_qtype_get(type);
  uint64_t grain = q ? q->block_bytes : 1, n = p->piece / grain * grain;
  return n ? n : grain;
}

int llm_pieces_write(llm_pieces *p, const char *name, size_t name_len, int part, const char *shape, uint32_t type,
                     const void *data, size_t n, llm_err *err) {
  sqlite3_stmt *st = part ? p->ins_part : p->ins;
  const llm_qtype *q = llm_qtype_get(type);
  sqlite3_bind_text(st, 1, p->model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, (int)name_len, SQLITE_STATIC);
  if (part) {
    sqlite3_bind_int(st, 3, part);
  } else {
    sqlite3_bind_text(st, 3, shape, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, q ? q->name : "unknown", -1, SQLITE_STATIC);
  }
  int rc = llm_zblob_bind(st, part ? 4 : 5, data, n, err);
  if (!rc && sqlite3_step(st) != SQLITE_DONE) rc = llm_db_fail(p->c, err, "cannot write llm_weights");
  sqlite3_reset(st);
  return rc;
}

void llm_shape_json(char *buf, size_t n, int n_dims, const int64_t *ne) {
  size_t used = 0;
  for (int d = n_dims; d-- > 0 && used < n;)
    used += (size_t)snprintf(buf + used, n - used, "%s%lld", d + 1 == n_dims ? "[" : ",", (long long)ne[d]);
  if (used < n) snprintf(buf + used, n - used, "]");
}
