/*
** dotgemm.c: llm_dotgemm (see dotgemm.h): the portable level and the
** driver that walks the product in tiles for every level.
**
** Loop order: blocks of x rows (as many as fit X_BYTES, kept in L2), and
** in each, W rows rn at a time: those stay in L1 while the block's x rows
** stream past them in tiles of rm. Rows longer than KC go in chunks of KC
** so that the rn rows' chunk still fits L1, the tiles' accumulators kept
** between chunks in a workspace. The workspace also holds the block's x
** rows and the current chunk of W rows copied to 64-byte aligned rows
** (vector loads that straddle two cache lines cost two), the weights
** widened to float32 on the way; float32 weights already so aligned are
** not copied (that measured 3-5% faster). At the level whose tiles take
** bfloat16 weights as they are (vdpbf16ps), those are not widened, and
** the x rows are copied rounded to bfloat16, as the tiles would round
** them. None of this changes an element's arithmetic (copies and widening
** are exact, the accumulators are stored as they are), so when the
** workspace cannot be had, or there is one tile of x rows only, the tiles
** run over whole rows where they lie.
*/
#include "kernels/dotgemm.h"

#include <stdint.h>
#include <string.h>

#include "base.h"
#include "kernels/qtypes.h"
#include "kernels/vec.h"

#define NB_MAX 256       /* x rows in a block */
#define X_BYTES (3 << 19) /* a block's x rows at most (if over NB_MIN rows) */
#define NB_MIN 32
#define KC 1024 /* k in a chunk: a multiple of every level's lanes and of 32 (vdpbf16ps) */
#define COPY_MIN_ROWS 16 /* x rows from which the workspace is used */

/* A stride of n floats for copied rows: whole lines, and not a multiple of
** 4 KB (rows that far apart share L1 sets). */
static size_t copy_ld(size_t n) {
  size_t ld = (n + 15) / 16 * 16;
  return ld % 1024 ? ld : ld + 16;
}

/* ---- Portable level: 8 partial sums, multiply then add ------------------ */

#define C_LANES 8

static float weight_at(const char *row, int wt, size_t k) {
  if (wt == LLM_DOTGEMM_F32) {
    float f;
    memcpy(&f, row + 4 * k, sizeof f);
    return f;
  }
  uint16_t h;
  memcpy(&h, row + 2 * k, sizeof h);
  return wt == LLM_DOTGEMM_F16 ? llm_f16_to_f32(h) : llm_bf16_to_f32(h);
}

/* Sum k = l (mod 8) into lane l, then lanes l + 4, l + 2, l + 1 as the
** SIMD levels reduce. Chunks start at multiples of 8, so k's lane is its
** lane in the whole row. */
static void tile_c(const llm_dotgemm_tile *t, size_t rm, size_t rn) {
  for (size_t i = 0; i < rm; i++)
    for (size_t j = 0; j < rn; j++) {
      const float *x = t->x + i * t->ldx;
      const char *w = (const char *)t->w + j * t->ldw;
      float p[C_LANES] = {0};
      if (!t->first) memcpy(p, t->state + (i * rn + j) * C_LANES, sizeof p);
      for (size_t k = 0; k < t->kc; k++) p[k % C_LANES] += x[k] * weight_at(w, t->wtype, k);
      if (!t->last) {
        memcpy(t->state + (i * rn + j) * C_LANES, p, sizeof p);
        continue;
      }
      for (size_t half = C_LANES / 2; half; half /= 2)
        for (size_t l = 0; l < half; l++) p[l] += p[l + half];
      float *o = t->out + i * t->ldo + j;
      *o = t->acc ? *o + p[0] : p[0];
    }
}

static void widen_c(float *dst, const void *src, int wt, size_t n) {
  for (size_t k = 0; k < n; k++) dst[k] = weight_at(src, wt, k);
}

static const llm_dotgemm_level portable = {C_LANES, 2, 4, tile_c, widen_c, NULL};

/* ---- Driver ---------------------------------------------------------------- */

static const llm_dotgemm_level *level_for(int simd) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (simd >= LLM_SIMD_AVX512_BF16) return &llm_dotgemm_avx512_bf16;
  if (simd >= LLM_SIMD_AVX512) return &llm_dotgemm_avx512;
  if (simd >= LLM_SIMD_AVX2) return &llm_dotgemm_avx2;
#else
  (void)simd;
#endif
  return &portable;
}

/* Runs t (set for x row 0 and W row 0 of the block) over x rows [0, rows)
** and W rows [0, rn), in tiles; state: the block's accumulators (rows x
** level rn elements), or NULL. */
static void run_tiles(const llm_dotgemm_level *lv, const llm_dotgemm_tile *t, size_t rows,
                      size_t rn, float *state) {
  for (size_t r = 0, rm; r < rows; r += rm) {
    rm = rows - r < lv->rm ? rows - r : lv->rm;
    /* rm + 1 rows left go as two tiles of (rm + 1) / 2 and the rest, not
    ** rm and 1: a one-row tile reads W rows one after another, for
    ** decode's sake, one FMA chain at a time (16 rows of the 110M shape
    ** in tiles of 3, 3, 3, 3, 2, 2: 8% faster than ending with 1) */
    if (rows - r == lv->rm + 1 && lv->rm > 2) rm = (lv->rm + 1) / 2;
    float *tile_state = state ? state + r * lv->rn * lv->lanes : NULL;
    llm_dotgemm_tile u = *t;
    u.x += r * t->ldx;
    u.out += r * t->ldo;
    if (r) u.next_w = NULL; /* the first tile of rows fetches them */
    if (rn == lv->rn) {
      u.state = tile_state;
      lv->tile(&u, rm, rn);
      continue;
    }
    /* W rows at the end of [0, m): one at a time */
    for (size_t j = 0; j < rn; j++) {
      llm_dotgemm_tile v = u;
      v.w = (const char *)t->w + j * t->ldw;
      v.out = u.out + j;
      v.state = tile_state ? tile_state + j * rm * lv->lanes : NULL;
      lv->tile(&v, rm, 1);
    }
  }
}

void llm_dotgemm(int simd, float *out, size_t ldo, const float *x, size_t ldx,
                 size_t n, const void *w, int wtype, size_t row_bytes,
                 size_t m, size_t K, int acc) {
  if (n == 0 || m == 0) return;
  const llm_dotgemm_level *lv = level_for(simd);
  size_t esize = wtype == LLM_DOTGEMM_F32 ? 4 : 2, xld = copy_ld(K), wld = copy_ld(KC);
  /* blocks of nb rows, a multiple of rm, as even as can be: a short last
  ** block would read all the weights again for a few rows */
  size_t cap = X_BYTES / (xld * sizeof(float));
  cap = cap < NB_MIN ? NB_MIN : cap > NB_MAX ? NB_MAX : cap;
  size_t blocks = (n + cap - 1) / cap, nb = (n + blocks - 1) / blocks;
  nb = (nb + lv->rm - 1) / lv->rm * lv->rm;
  nb = n < nb ? n : nb;
  size_t state_floats = nb * lv->rn * lv->lanes, wide_floats = lv->rn * wld;
  void *block = NULL;
  /* (a few rows do not repay the copies: a text of a few tokens, a batch
  ** of decoding sequences) */
  if (n >= COPY_MIN_ROWS && n > lv->rm && K < SIZE_MAX / 4096) /* else the size could wrap */
    block = llm_malloc((state_floats + wide_floats + nb * xld) * sizeof(float) + 64);
  float *ws = block ? (float *)(((uintptr_t)block + 63) & ~(uintptr_t)63) : NULL, *wide = NULL, *xcopy = NULL;
  if (ws) wide = ws + state_floats, xcopy = wide + wide_floats;
  size_t kstep = ws ? KC : K;
  /* float32 rows on whole lines, not 4 KB apart, are read where they lie;
  ** so are bfloat16 rows not 4 KB apart where the level's tiles take them
  ** as they are (else copied as they are: 110M's down projection 112 ->
  ** 130 GFLOP/s) */
  int raw = wtype == LLM_DOTGEMM_BF16 && lv->round_bf16, x_bf16 = ws && raw;
  int in_place = row_bytes % 4096 != 0 &&
                 (raw || (wtype == LLM_DOTGEMM_F32 && (uintptr_t)w % 64 == 0 && row_bytes % 64 == 0));
  for (size_t r0 = 0; r0 < n; r0 += nb) {
    size_t rows = n - r0 < nb ? n - r0 : nb, xs = ldx;
    const float *xb = x + r0 * ldx;
    if (ws) { /* (rounded once here, not in every tile: 110M's attention 151 -> 180 GFLOP/s, one thread) */
      for (size_t r = 0; r < rows; r++)
        if (x_bf16)
          lv->round_bf16((uint16_t *)(xcopy + r * xld), xb + r * ldx, K);
        else
          memcpy(xcopy + r * xld, xb + r * ldx, K * sizeof(float));
      xb = xcopy, xs = xld;
    }
    for (size_t j0 = 0; j0 < m; j0 += lv->rn) {
      size_t rn = m - j0 < lv->rn ? m - j0 : lv->rn, k0 = 0;
      const char *wj = (const char *)w + j0 * row_bytes;
      for (;;) { /* over the chunks, at least one */
        size_t kc = K - k0 < kstep ? K - k0 : kstep;
        const float *xk = x_bf16 ? (const float *)((const uint16_t *)xb + k0) : xb + k0;
        llm_dotgemm_tile t = {xk, xs, x_bf16, wj + k0 * esize, row_bytes, wtype, kc, NULL,
                              k0 == 0, k0 + kc == K, out + r0 * ldo + j0, ldo, acc, NULL};
        /* the next W rows stream from memory while this block's tiles
        ** compute, instead of stalling the next block's first tile */
        if (j0 + 2 * rn <= m) t.next_w = wj + rn * row_bytes + k0 * esize;
        if (ws && !in_place) {
          for (size_t j = 0; j < rn; j++) {
            const char *src = wj + j * row_bytes + k0 * esize;
            if (raw)
              memcpy(wide + j * wld, src, kc * esize);
            else
              lv->widen(wide + j * wld, src, wtype, kc);
          }
          t.w = wide, t.ldw = wld * sizeof(float), t.wtype = raw ? wtype : LLM_DOTGEMM_F32, t.next_w = NULL;
        }
        run_tiles(lv, &t, rows, rn, ws);
        if (t.last) break;
        k0 += kc;
      }
    }
  }
  llm_free(block);
}
