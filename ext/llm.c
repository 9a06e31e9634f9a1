/*
** llm.c: the entry point of the sqlite-llm extension.
**
** Load it in the sqlite3 shell with `.load ./llm`, or with
** load_extension('./llm') from any binding. It registers the llm_* SQL
** functions on the connection; it creates no tables until a function first
** stores something, so loading it into a read-only database is harmless.
**
**   SELECT llm_version();   -- version and build facts, as JSON
**
** The tokenizer functions are described in tokenizer_fns.c and
** tokens_vtab.c; the storage schema in sql/schema.sql.
*/
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "ext.h"
#include "kernels/cpu.h"
#include "kernels/qkernels.h"
#include "kernels/vec.h"

SQLITE_EXTENSION_INIT1

#ifdef SQLITE_RESULT_SUBTYPE
#define RESULT_SUBTYPE SQLITE_RESULT_SUBTYPE
#else
#define RESULT_SUBTYPE 0x001000000 /* its value in SQLite 3.45's header */
#endif

/* The engine's allocator hooks (engine/base.h), onto SQLite's allocator. */
void *llm_malloc(size_t n) { return sqlite3_malloc64(n ? n : 1); }
void *llm_realloc(void *p, size_t n) { return sqlite3_realloc64(p, n ? n : 1); }
void llm_free(void *p) { sqlite3_free(p); }

static void fn_destroy(void *p) {
  llm_fn *fn = p;
  llm_conn_unref(fn->conn);
  sqlite3_free(fn);
}

int llm_register_fns(sqlite3 *db, llm_conn *c, const llm_fn_spec *specs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    llm_fn *fn = sqlite3_malloc(sizeof *fn);
    if (!fn) return SQLITE_NOMEM;
    fn->name = specs[i].name;
    fn->conn = c;
    c->refs++;
    int flags = SQLITE_UTF8, kind = specs[i].kind & ~LLM_FN_SUBTYPE;
    if (kind == LLM_FN_PURE) flags |= SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (kind == LLM_FN_READS) flags |= SQLITE_INNOCUOUS;
    if (kind == LLM_FN_WRITES) flags |= SQLITE_DIRECTONLY;
    /* SQLite 3.45 asks functions that set a subtype to say so */
    if ((specs[i].kind & LLM_FN_SUBTYPE) && sqlite3_libversion_number() >= 3045000) flags |= RESULT_SUBTYPE;
    /* on failure SQLite calls fn_destroy itself */
    int rc = sqlite3_create_function_v2(db, specs[i].name, specs[i].n_arg, flags, fn, specs[i].fn, 0, 0,
                                        fn_destroy);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendf(s, "{\"version\":\"%s\",\"sqlite\":\"%s\",\"openblas\":", LLM_VERSION, sqlite3_libversion());
  const char *blas = llm_blas_config();
  llm_str_append_json(s, blas, strlen(blas));
  /* the quantized products' kernels: AVX-512 needs VNNI too */
  static const char *const QLEVEL[] = {"portable", "avx2", "avx512-vnni"};
  sqlite3_str_appendf(s, ",\"zstd\":\"%s\",\"simd\":\"%s\",\"quant_kernels\":\"%s\",\"compiler\":",
                      ZSTD_versionString(), llm_cpu_simd_level(), QLEVEL[llm_qkernel_level(LLM_SIMD_AVX512)]);
#if defined(__clang__)
  sqlite3_str_appendall(s, "\"clang " __clang_version__ "\"");
#elif defined(__GNUC__)
  sqlite3_str_appendall(s, "\"gcc " __VERSION__ "\"");
#else
  sqlite3_str_appendall(s, "\"unknown\"");
#endif
  sqlite3_str_appendall(s, "}");
  llm_result_str(ctx, s);
}

/* SQLITE_EXTENSION_INIT2, but sqlite3_api is written once per process and
** under a lock: connections on other threads call through it while another
** connection loads the extension, and writing it again, even with the same
** value, would be a data race with their reads. */
static void set_api(const sqlite3_api_routines *api) {
  sqlite3_mutex *m = api->mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
  api->mutex_enter(m);
  if (sqlite3_api != api) sqlite3_api = api;
  api->mutex_leave(m);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_llm_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  set_api(pApi);
  if (sqlite3_libversion_number() < 3037000) {
    *pzErrMsg = sqlite3_mprintf("sqlite-llm needs SQLite 3.37 or later (this is %s)", sqlite3_libversion());
    return SQLITE_ERROR;
  }
  /* a misspelt cap would otherwise be ignored without a word */
  const char *simd = getenv("LLM_SIMD");
  if (simd && *simd && llm_simd_by_name(simd) < 0) {
    *pzErrMsg = sqlite3_mprintf("sqlite-llm: the environment variable LLM_SIMD is '%s'; it must be one of "
                                "sse2, avx2+fma, avx512, avx512+bf16 (or unset: the CPU's best)",
                                simd);
    return SQLITE_ERROR;
  }
  int rc = llm_blas_load(pzErrMsg);
  if (rc != SQLITE_OK) return rc;
  llm_conn *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->db = db;
  c->refs = 1; /* held by this function until registration is done */
  static const llm_fn_spec specs[] = {
      {"llm_version", 0, LLM_FN_PURE, fn_version},
  };
  rc = llm_register_fns(db, c, specs, 1);
  if (rc == SQLITE_OK) rc = llm_register_tokenizer_fns(db, c);
  if (rc == SQLITE_OK) rc = llm_register_tokens_vtab(db, c);
  if (rc == SQLITE_OK) rc = llm_register_model_fns(db, c);
  if (rc == SQLITE_OK) rc = llm_register_train_vtab(db, c);
  if (rc == SQLITE_OK) rc = llm_register_infer_fns(db, c);
  if (rc == SQLITE_OK) rc = llm_register_generate_vtab(db, c);
  if (rc == SQLITE_OK) rc = llm_register_generate_rows_vtab(db, c);
  if (rc == SQLITE_OK) rc = llm_register_embed_rows_vtab(db, c);
  if (rc == SQLITE_OK) rc = llm_register_chat_fns(db, c);
  if (rc == SQLITE_OK) rc = llm_register_chunks_vtab(db, c);
  if (rc == SQLITE_OK) rc = llm_register_import_fns(db, c);
  if (rc == SQLITE_OK) rc = llm_register_quantize_fns(db, c);

  llm_conn_unref(c);
  if (rc != SQLITE_OK) *pzErrMsg = sqlite3_mprintf("sqlite-llm: cannot register its functions: %s", sqlite3_errstr(rc));
  return rc;
}
