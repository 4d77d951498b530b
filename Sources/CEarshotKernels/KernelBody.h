// The kernels, written once over a vector of EK_W floats and included once per instruction
// set by Kernels.c through InstantiateLevels.h, which defines EK_W, N and W and sets the
// target. No include guard on purpose.

typedef float N(vf) __attribute__((vector_size(EK_W * 4)));
typedef int N(vi) __attribute__((vector_size(EK_W * 4)));
#define VF N(vf)
#define VI N(vi)

static inline __attribute__((always_inline)) VF N(load)(const float *p) {
  VF v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline __attribute__((always_inline)) void N(store)(VF v, float *p) {
  memcpy(p, &v, sizeof v);
}

static inline __attribute__((always_inline)) VF N(splat)(float x) {
  VF v;
  for (int i = 0; i < W; i++) v[i] = x;  // a broadcast ((VF){0} + x would add, for -0)
  return v;
}

// m ? a : b, lane by lane, for a comparison mask m (all ones or all zeros per lane)
static inline __attribute__((always_inline)) VF N(select)(VI m, VF a, VF b) {
  return (VF)(((VI)a & m) | ((VI)b & ~m));
}

// exp: Cephes-style range reduction x = n ln2 + r and a degree-6 polynomial for exp(r);
// relative error below 2e-7 over [-87, 88], 0 / +inf beyond. The same formula as exp4 in
// EarshotNeural/Math.swift.
static inline __attribute__((always_inline)) VF N(exp)(VF x) {
  const VF hi = N(splat)(88.3762626647949f), lo = N(splat)(-87.3365447504019f);
  VF v = N(select)(x > hi, hi, x);
  v = N(select)(v < lo, lo, v);
  // n = round(x / ln2) through the 1.5 * 2^23 trick (the integer lands in the low mantissa bits)
  const VF magic = N(splat)(0x1.8p23f);
  VF t = v * 1.44269504088896341f + magic;
  VF n = t - magic;
  VI ni = (VI)t - (VI)magic;
  // r = x - n ln2, in two parts for accuracy
  v = v - n * 0.693359375f;
  v = v + n * 2.12194440e-4f;
  VF r = v;
  VF p = N(splat)(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  VF scale = (VF)((ni + 127) << 23);  // 2^n through the exponent bits
  VF result = p * scale;
  result = N(select)(x < lo, N(splat)(0.0f), result);
  result = N(select)(x > hi, N(splat)(__builtin_inff()), result);
  return result;
}

static inline __attribute__((always_inline)) VF N(sigmoid)(VF x) {
  return 1.0f / (1.0f + N(exp)(-x));
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|); absolute error below 3e-7.
static inline __attribute__((always_inline)) VF N(tanh)(VF x) {
  VI negative = x < 0.0f;
  VF ax = (VF)((VI)x & 0x7fffffff);
  VF e = N(exp)(-2.0f * ax);
  VF t = (1.0f - e) / (1.0f + e);
  return N(select)(negative, -t, t);
}

// Up to W floats of a vector at p (the lanes past `count` read as 0).
static inline __attribute__((always_inline)) VF N(load_part)(const float *p, long count) {
  float tmp[W] = {0};
  memcpy(tmp, p, (size_t)count * sizeof(float));
  return N(load)(tmp);
}

static inline __attribute__((always_inline)) void N(store_part)(VF v, float *p, long count) {
  float tmp[W];
  N(store)(v, tmp);
  memcpy(p, tmp, (size_t)count * sizeof(float));
}

// One cell over lanes [j, j + count): count == W uses whole-vector loads, otherwise the tail.
static inline __attribute__((always_inline)) void N(cell_forward_lanes)(
    float *row, const float *bias, long h, long j, long count, const float *cp, float *c,
    float *tc, float *hh, int keep) {
#define LD(p) (count == W ? N(load)(p) : N(load_part)((p), count))
#define ST(v, p) (count == W ? N(store)((v), (p)) : N(store_part)((v), (p), count))
#define PRE(q) (bias ? LD(row + (q) + j) + LD(bias + (q) + j) : LD(row + (q) + j))
  VF i = N(sigmoid)(PRE(0));
  VF f = N(sigmoid)(PRE(h));
  VF g = N(tanh)(PRE(2 * h));
  VF o = N(sigmoid)(PRE(3 * h));
#undef PRE
  VF cv = i * g;
  if (cp) cv = f * LD(cp + j) + cv;
  VF t = N(tanh)(cv);
  ST(cv, c + j);
  ST(o * t, hh + j);
  if (keep) {
    ST(i, row + j); ST(f, row + h + j); ST(g, row + 2 * h + j); ST(o, row + 3 * h + j);
    ST(t, tc + j);
  }
#undef LD
#undef ST
}

static void N(lstm_cell_forward)(float *row, const float *bias, long h, const float *cp, float *c,
                                 float *tc, float *hh, int keep) {
  long j = 0;
  for (; j + W <= h; j += W) N(cell_forward_lanes)(row, bias, h, j, W, cp, c, tc, hh, keep);
  if (j < h) N(cell_forward_lanes)(row, bias, h, j, h - j, cp, c, tc, hh, keep);
}

static inline __attribute__((always_inline)) void N(cell_backward_lanes)(
    const float *row, const float *tc, const float *cp, const float *dout, const float *dhn,
    float *dcn, float *dg, long h, long j, long count) {
#define LD(p) (count == W ? N(load)(p) : N(load_part)((p), count))
#define ST(v, p) (count == W ? N(store)((v), (p)) : N(store_part)((v), (p), count))
  VF i = LD(row + j), f = LD(row + h + j), g = LD(row + 2 * h + j), o = LD(row + 3 * h + j);
  VF t = LD(tc + j);
  VF dh = LD(dout + j) + LD(dhn + j);
  // forward was h = o * tanh(c), c = f * c' + i * g
  VF dc = LD(dcn + j) + dh * o * (1.0f - t * t);
  VF cprev = cp ? LD(cp + j) : N(splat)(0.0f);
  ST(dc * g * i * (1.0f - i), dg + j);
  ST(dc * cprev * f * (1.0f - f), dg + h + j);
  ST(dc * i * (1.0f - g * g), dg + 2 * h + j);
  ST(dh * t * o * (1.0f - o), dg + 3 * h + j);
  ST(dc * f, dcn + j);  // c = f * c' + ..., so dc' = dc * f
#undef LD
#undef ST
}

static void N(lstm_cell_backward)(const float *row, const float *tc, const float *cp,
                                  const float *dout, const float *dhn, float *dcn, float *dg,
                                  long h) {
  long j = 0;
  for (; j + W <= h; j += W) N(cell_backward_lanes)(row, tc, cp, dout, dhn, dcn, dg, h, j, W);
  if (j < h) N(cell_backward_lanes)(row, tc, cp, dout, dhn, dcn, dg, h, j, h - j);
}

// Panels are EK_VPP vectors wide.
#define PW (EK_VPP * W)

static void N(pack)(const float *b, long ldb, int transposed, long k, long n, float *packed) {
  long panels = (n + PW - 1) / PW;
  for (long p = 0; p < panels; p++) {
    long valid = n - p * PW < PW ? n - p * PW : PW;
    float *panel = packed + p * k * PW;
    if (!transposed || valid < PW || k % 16 != 0) {
      for (long kk = 0; kk < k; kk++) {
        for (long jj = 0; jj < PW; jj++) {
          long j = p * PW + jj;
          panel[kk * PW + jj] = jj < valid ? (transposed ? b[j * ldb + kk] : b[kk * ldb + j]) : 0.0f;
        }
      }
      continue;
    }
    // B^T (rows of b are columns of B): 16 x 16 tiles through a buffer, so that reads and
    // writes both run along cache lines
    for (long j0 = 0; j0 < PW; j0 += 16) {
      const float *src = b + (p * PW + j0) * ldb;
      for (long k0 = 0; k0 < k; k0 += 16) {
        float tile[16][16];
        for (int r = 0; r < 16; r++)
          for (int c = 0; c < 16; c++) tile[c][r] = src[r * ldb + k0 + c];
        for (int c = 0; c < 16; c++) memcpy(panel + (k0 + c) * PW + j0, tile[c], sizeof tile[c]);
      }
    }
  }
}

// R rows x C vectors of one panel (R * C <= 16 accumulators, C <= EK_VPP): rows r0 ..< r0 + R,
// panel columns [c0 W, (c0 + C) W).
static inline __attribute__((always_inline)) void N(tile)(
    int R, int C, const float *x, long ldx, long k, const float *panel, long c0, float *y,
    long ldy, long valid) {
  VF acc[16];
  for (int a = 0; a < R * C; a++) acc[a] = N(splat)(0.0f);
  const float *wp = panel + c0 * W;
  for (long kk = 0; kk < k; kk++, wp += PW) {
    VF w[EK_VPP];
    for (int c = 0; c < C; c++) w[c] = N(load)(wp + c * W);
    for (int r = 0; r < R; r++) {
      VF xb = N(splat)(x[r * ldx + kk]);
      for (int c = 0; c < C; c++) acc[r * C + c] += xb * w[c];
    }
  }
  // y += acc, for the columns below n (`valid` of this panel's columns)
  for (int r = 0; r < R; r++) {
    for (int c = 0; c < C; c++) {
      long col = (c0 + c) * W, count = valid - col;
      if (count <= 0) continue;
      float *yp = y + r * ldy + col;
      if (count >= W) N(store)(N(load)(yp) + acc[r * C + c], yp);
      else N(store_part)(N(load_part)(yp, count) + acc[r * C + c], yp, count);
    }
  }
}

static void N(packed_product)(const float *x, long ldx, long rows, long k, const float *packed,
                              long n, float *y, long ldy, int reverse) {
  long panels = (n + PW - 1) / PW;
  for (long q = 0; q < panels; q++) {
    long p = reverse ? panels - 1 - q : q;
    const float *panel = packed + p * k * PW;
    long valid = n - p * PW < PW ? n - p * PW : PW;
    float *yp = y + p * PW;
    long r = 0;
#if EK_W == 16
    // AVX-512 (32 registers): 4 rows x 4 vectors while 4 rows are left, the panel's columns
    // four vectors at a time: 8 loads (4 of W, 4 broadcasts of x) per 16 FMAs, where 8 x 1
    // needs 9 per 8 and is bound by the load ports (rows 16, k 256, n 1024, one core of the
    // Xeon: 160 GFLOP/s against 120). Then 2 x 4 and 1 x 8 below.
    if (rows - r >= 4) {
      for (long c0 = 0; c0 < EK_VPP; c0 += 4)
        for (long rr = r; rr + 4 <= rows; rr += 4)
          N(tile)(4, 4, x + rr * ldx, ldx, k, panel, c0, yp + rr * ldy, ldy, valid);
      r += (rows - r) / 4 * 4;
    }
#endif
    // 8 rows x 1 vector while 8 rows are left, the panel's columns one vector at a time (each
    // column strip is read once per row tile, from L1 after the first); then 4 x 2, 2 x 4, 1 x 8.
    // With 16 registers (AVX2, SSE2, NEON) this beats 4 x 4, which spills.
    if (rows - r >= 8) {
      for (long c0 = 0; c0 < EK_VPP; c0++)
        for (long rr = r; rr + 8 <= rows; rr += 8)
          N(tile)(8, 1, x + rr * ldx, ldx, k, panel, c0, yp + rr * ldy, ldy, valid);
      r += (rows - r) / 8 * 8;
    }
    if (rows - r >= 4) {
      for (long c0 = 0; c0 < EK_VPP; c0 += 2)
        N(tile)(4, 2, x + r * ldx, ldx, k, panel, c0, yp + r * ldy, ldy, valid);
      r += 4;
    }
    if (rows - r >= 2) {
      for (long c0 = 0; c0 < EK_VPP; c0 += 4)
        N(tile)(2, 4, x + r * ldx, ldx, k, panel, c0, yp + r * ldy, ldy, valid);
      r += 2;
    }
    if (rows - r >= 1) N(tile)(1, 8, x + r * ldx, ldx, k, panel, 0, yp + r * ldy, ldy, valid);
  }
}

static inline __attribute__((always_inline)) VF N(sqrt)(VF x) {
  return __builtin_elementwise_sqrt(x);  // one vector sqrt, correctly rounded as in Swift
}

// Adam over lanes [i, i + count), count <= W; `wd_mode` 0: none, 1: L2 (Adam), 2: decoupled.
static inline __attribute__((always_inline)) void N(adam_lanes)(
    float *w, float *m, float *v, const float *grad, long i, long count, float b1, float b2,
    float step, float b2s, float eps, float wd, int wd_mode, float decay) {
#pragma clang fp contract(off)
#define LD(p) (count == W ? N(load)(p) : N(load_part)((p), count))
#define ST(x, p) (count == W ? N(store)((x), (p)) : N(store_part)((x), (p), count))
  VF g = LD(grad + i), wv = LD(w + i), mv = LD(m + i), vv = LD(v + i);
  if (wd_mode == 2) wv = wv * decay;
  if (wd_mode == 1) g = g + wd * wv;
  mv = mv + (g - mv) * (1.0f - b1);  // torch: exp_avg.lerp_(grad, 1 - beta1)
  vv = vv * b2 + (1.0f - b2) * g * g;
  VF denom = N(sqrt)(vv) / b2s + eps;
  wv = wv - step * (mv / denom);
  ST(wv, w + i); ST(mv, m + i); ST(vv, v + i);
#undef LD
#undef ST
}

static void N(adam_update)(float *w, float *m, float *v, const float *grad, long count,
                           float b1, float b2, float step, float b2s, float eps, float wd,
                           int decoupled, float decay) {
  int mode = wd == 0.0f ? 0 : decoupled ? 2 : 1;
  long i = 0;
  // one loop per mode, so that the branch is out of the loop
#define RUN(MODE)                                                                          \
  for (; i + W <= count; i += W) N(adam_lanes)(w, m, v, grad, i, W, b1, b2, step, b2s, eps, wd, MODE, decay); \
  if (i < count) N(adam_lanes)(w, m, v, grad, i, count - i, b1, b2, step, b2s, eps, wd, MODE, decay);
  if (mode == 0) { RUN(0) } else if (mode == 1) { RUN(1) } else { RUN(2) }
#undef RUN
}

static const ek_kernels N(kernels) = {
  .level = EK_LEVEL,
  .panel_width = PW,
  .lstm_cell_forward = N(lstm_cell_forward),
  .lstm_cell_backward = N(lstm_cell_backward),
  .pack = N(pack),
  .packed_product = N(packed_product),
  .adam_update = N(adam_update),
};

#undef PW
#undef VF
#undef VI
