// The feature kernels, written once over a vector of EK_W floats and included once per
// instruction set by FeatureKernels.c through InstantiateLevels.h (which defines EK_W, N
// and W and sets the target). No include guard on purpose. Contraction is off in the including
// file, so every level rounds exactly as the scalar Swift code it replaces.

typedef float N(fvf) __attribute__((vector_size(EK_W * 4)));
typedef int N(fvi) __attribute__((vector_size(EK_W * 4)));
#define VF N(fvf)
#define VI N(fvi)
#define B EK_FRAME_BLOCK

static inline __attribute__((always_inline)) VF N(fload)(const float *p) {
  VF v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline __attribute__((always_inline)) void N(fstore)(VF v, float *p) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) VF N(fsplat)(float x) {
  VF v;
  for (int i = 0; i < W; i++) v[i] = x;
  return v;
}

static inline __attribute__((always_inline)) VF N(fselect)(VI m, VF a, VF b) {
  return (VF)(((VI)a & m) | ((VI)b & ~m));
}

// ln x for positive normal x: x = m 2^e, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
// s = (m - 1) / (m + 1), odd series to s^11. Operation for operation FastLog.swift's logVector.
static inline __attribute__((always_inline)) VF N(ln)(VF x) {
  VI bits = (VI)x;
  VI exponent = ((bits >> 23) & 0xFF) - 127;
  VF mantissa = (VF)((bits & 0x007FFFFF) | 0x3F800000);
  VI big = mantissa > N(fsplat)(1.4142135f);
  mantissa = N(fselect)(big, mantissa * 0.5f, mantissa);
  exponent = exponent - big;  // big lanes are -1: exponent + 1
  VF s = (mantissa - 1.0f) / (mantissa + 1.0f);
  VF s2 = s * s;
  VF series = N(fsplat)(1.0f / 11);
  series = series * s2 + 1.0f / 9;
  series = series * s2 + 1.0f / 7;
  series = series * s2 + 1.0f / 5;
  series = series * s2 + 1.0f / 3;
  series = series * s2 + 1.0f;
  VF e = __builtin_convertvector(exponent, VF);
  return e * 0.693145751953125f + (2.0f * s * series + e * 1.428606765330187e-6f);
}

// r[i][j] -> r[j][i] for an 8x8 block (unpack, shuffle, then swap the 128-bit halves).
static inline __attribute__((always_inline)) void N(transpose8)(ek_v8f *r) {
  ek_v8f t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
  ek_v8f t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
  ek_v8f t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
  ek_v8f t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
  ek_v8f t4 = __builtin_shufflevector(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
  ek_v8f t5 = __builtin_shufflevector(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
  ek_v8f t6 = __builtin_shufflevector(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
  ek_v8f t7 = __builtin_shufflevector(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
  ek_v8f s0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
  ek_v8f s1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
  ek_v8f s2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
  ek_v8f s3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
  ek_v8f s4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
  ek_v8f s5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
  ek_v8f s6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
  ek_v8f s7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
  r[0] = __builtin_shufflevector(s0, s4, 0, 1, 2, 3, 8, 9, 10, 11);
  r[1] = __builtin_shufflevector(s1, s5, 0, 1, 2, 3, 8, 9, 10, 11);
  r[2] = __builtin_shufflevector(s2, s6, 0, 1, 2, 3, 8, 9, 10, 11);
  r[3] = __builtin_shufflevector(s3, s7, 0, 1, 2, 3, 8, 9, 10, 11);
  r[4] = __builtin_shufflevector(s0, s4, 4, 5, 6, 7, 12, 13, 14, 15);
  r[5] = __builtin_shufflevector(s1, s5, 4, 5, 6, 7, 12, 13, 14, 15);
  r[6] = __builtin_shufflevector(s2, s6, 4, 5, 6, 7, 12, 13, 14, 15);
  r[7] = __builtin_shufflevector(s3, s7, 4, 5, 6, 7, 12, 13, 14, 15);
}

static void N(window_frames)(const float *x, long hop, long count, const double *window, long n,
                             double *out, long ldout) {
  for (long f = 0; f < count; f++) {
    const float *src = x + f * hop;
    double *dst = out + f * ldout;
    for (long i = 0; i < n; i++) dst[i] = (double)src[i] * window[i];
  }
}

static void N(power_block)(const double *z, long ldz, long bins, long count, int magnitude,
                           float *spectrum) {
  // Eight frames by eight bins at a time: each frame's eight values in one vector, then an
  // 8x8 transpose so that each bin's eight frames go out in one store. Frames past `count`
  // are computed from whatever their rows hold and never read.
  long frames = (count + 7) / 8 * 8;
  long k = 0;
  for (; k + 8 <= bins; k += 8) {
    for (long f0 = 0; f0 < frames; f0 += 8) {
      ek_v8f r[8];
      for (int j = 0; j < 8; j++) {
        const double *row = z + (f0 + j) * ldz + 2 * k;
        ek_v8d a, b;
        memcpy(&a, row, sizeof a);
        memcpy(&b, row + 8, sizeof b);
        a = a * a;
        b = b * b;
        ek_v8d re = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
        ek_v8d im = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
        ek_v8d p = re + im;
        if (magnitude) {
          for (int i = 0; i < 8; i++) p[i] = __builtin_sqrt(p[i]);
        }
        r[j] = __builtin_convertvector(p, ek_v8f);
      }
      N(transpose8)(r);
      for (int i = 0; i < 8; i++) memcpy(spectrum + (k + i) * B + f0, &r[i], sizeof r[i]);
    }
  }
  for (; k < bins; k++) {
    for (long f = 0; f < count; f++) {
      double re = z[f * ldz + 2 * k], im = z[f * ldz + 2 * k + 1];
      double p = re * re + im * im;
      spectrum[k * B + f] = (float)(magnitude ? __builtin_sqrt(p) : p);
    }
  }
}

// The split of a real FFT of even length 2 * half computed as a complex FFT of length half:
// from Z_k = sum_n (x[2n] + i x[2n+1]) e^(-2 pi i n k / half) and Z_j, j = half - k, the
// real input's X_k and X_j. cosine[k] = cos(pi k / half), sine[k] = sin(pi k / half).
// Eight pairs at once (lane i: k + i and j - i, from the 16 values at z + 2k and the 16 at
// z + 2(j - 7)), with the same operations, in the same order, as the one-pair version below.
static inline __attribute__((always_inline)) void N(split8)(const double *z, long k, long j, const double *cosine,
                                                          const double *sine, ek_v8d *xkr, ek_v8d *xki,
                                                          ek_v8d *xjr, ek_v8d *xji) {
  ek_v8d lo0, lo1, hi0, hi1, c, s;
  memcpy(&lo0, z + 2 * k, sizeof lo0);
  memcpy(&lo1, z + 2 * k + 8, sizeof lo1);
  memcpy(&hi0, z + 2 * (j - 7), sizeof hi0);
  memcpy(&hi1, z + 2 * (j - 7) + 8, sizeof hi1);
  memcpy(&c, cosine + k, sizeof c);
  memcpy(&s, sine + k, sizeof s);
  ek_v8d ar = __builtin_shufflevector(lo0, lo1, 0, 2, 4, 6, 8, 10, 12, 14);
  ek_v8d ai = __builtin_shufflevector(lo0, lo1, 1, 3, 5, 7, 9, 11, 13, 15);
  ek_v8d br = __builtin_shufflevector(hi0, hi1, 14, 12, 10, 8, 6, 4, 2, 0);
  ek_v8d bi = __builtin_shufflevector(hi0, hi1, 15, 13, 11, 9, 7, 5, 3, 1);
  ek_v8d er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
  ek_v8d or_ = 0.5 * (ai + bi), oi = 0.5 * (br - ar);
  ek_v8d tr = c * or_ + s * oi, ti = c * oi - s * or_;
  *xkr = er + tr;
  *xki = ei + ti;
  *xjr = er - tr;
  *xji = ti - ei;
}

// One pair: X_k = (*xkr, *xki) and X_j = (*xjr, *xji) from Z_k and Z_j (k == j gives X_k twice).
static inline __attribute__((always_inline)) void N(split1)(const double *z, long k, long j, const double *cosine,
                                                          const double *sine, double *xkr, double *xki,
                                                          double *xjr, double *xji) {
  double ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * j], bi = z[2 * j + 1];
  double c = cosine[k], s = sine[k];
  double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
  double or_ = 0.5 * (ai + bi), oi = 0.5 * (br - ar);
  double tr = c * or_ + s * oi, ti = c * oi - s * or_;
  *xkr = er + tr;
  *xki = ei + ti;
  *xjr = er - tr;
  *xji = ti - ei;
}

// The split in place: on entry z holds Z_k, k < half (re, im interleaved), and room for one
// more value; on return it holds X_k, k = 0...half. X_k and X_(half-k) come from the same
// pair Z_k, Z_(half-k), so each pair is read before it is written.
static void N(real_split)(double *z, const double *cosine, const double *sine, long half) {
  double z0r = z[0], z0i = z[1];
  long k = 1, j = half - 1;
  for (; k + 7 < j - 7; k += 8, j -= 8) {
    ek_v8d xkr, xki, xjr, xji;
    N(split8)(z, k, j, cosine, sine, &xkr, &xki, &xjr, &xji);
    ek_v8d lo0 = __builtin_shufflevector(xkr, xki, 0, 8, 1, 9, 2, 10, 3, 11);
    ek_v8d lo1 = __builtin_shufflevector(xkr, xki, 4, 12, 5, 13, 6, 14, 7, 15);
    ek_v8d hi0 = __builtin_shufflevector(xjr, xji, 7, 15, 6, 14, 5, 13, 4, 12);
    ek_v8d hi1 = __builtin_shufflevector(xjr, xji, 3, 11, 2, 10, 1, 9, 0, 8);
    memcpy(z + 2 * k, &lo0, sizeof lo0);
    memcpy(z + 2 * k + 8, &lo1, sizeof lo1);
    memcpy(z + 2 * (j - 7), &hi0, sizeof hi0);
    memcpy(z + 2 * (j - 7) + 8, &hi1, sizeof hi1);
  }
  for (; k <= j; k++, j--) {
    double xkr, xki, xjr, xji;
    N(split1)(z, k, j, cosine, sine, &xkr, &xki, &xjr, &xji);
    z[2 * k] = xkr;
    z[2 * k + 1] = xki;
    if (j != k) {
      z[2 * j] = xjr;
      z[2 * j + 1] = xji;
    }
  }
  z[0] = z0r + z0i;
  z[1] = 0;
  z[2 * half] = z0r - z0i;
  z[2 * half + 1] = 0;
}

// real_split and power_block in one pass, for `count` <= EK_FRAME_BLOCK frames whose complex
// half-length FFTs start at z + f * ldz: each bin's power (or magnitude) is computed from the
// split value in registers, with the same operations as real_split followed by power_block, so
// the same bits, and written frame-parallel (spectrum[k * B + f], k = 0...half). As in
// power_block, frames past `count` up to a multiple of eight are computed and never read.
static void N(split_power_block)(const double *z, long ldz, const double *cosine, const double *sine,
                                 long half, long count, int magnitude, float *spectrum) {
  long frames = (count + 7) / 8 * 8;
  long k = 1, j = half - 1;
  // Pairs of eight bins from both ends; the last pass, when fewer than sixteen bins are left
  // in the middle (and at least eight pairs exist), overlaps: its two blocks share bins, and
  // each bin keeps the side the scalar loop below computes it from (bins up to half / 2 as
  // X_k, the rest as X_j), so the bits do not change.
  for (int last = 0; k <= j && k + 7 < half && j >= 8 && !last; k += 8, j -= 8) {
    last = !(k + 7 < j - 7);
    for (long f0 = 0; f0 < frames; f0 += 8) {
      ek_v8f rk[8], rj[8];
      for (int q = 0; q < 8; q++) {
        ek_v8d xkr, xki, xjr, xji;
        N(split8)(z + (f0 + q) * ldz, k, j, cosine, sine, &xkr, &xki, &xjr, &xji);
        ek_v8d pk = xkr * xkr + xki * xki, pj = xjr * xjr + xji * xji;
        if (magnitude) {
          for (int i = 0; i < 8; i++) {
            pk[i] = __builtin_sqrt(pk[i]);
            pj[i] = __builtin_sqrt(pj[i]);
          }
        }
        rk[q] = __builtin_convertvector(pk, ek_v8f);
        rj[q] = __builtin_convertvector(pj, ek_v8f);  // lane i: bin j - i
      }
      N(transpose8)(rk);
      N(transpose8)(rj);
      for (int i = 0; i < 8; i++) {
        if (!last || k + i <= half / 2) memcpy(spectrum + (k + i) * B + f0, &rk[i], sizeof rk[i]);
        if (!last || j - i > half / 2) memcpy(spectrum + (j - i) * B + f0, &rj[i], sizeof rj[i]);
      }
    }
    if (last) k = j + 1;  // every bin between is done
  }
  for (long f = 0; f < count; f++) {
    const double *row = z + f * ldz;
    for (long kk = k, jj = j; kk <= jj; kk++, jj--) {
      double xkr, xki, xjr, xji;
      N(split1)(row, kk, jj, cosine, sine, &xkr, &xki, &xjr, &xji);
      double pk = xkr * xkr + xki * xki, pj = xjr * xjr + xji * xji;
      spectrum[kk * B + f] = (float)(magnitude ? __builtin_sqrt(pk) : pk);
      if (jj != kk) spectrum[jj * B + f] = (float)(magnitude ? __builtin_sqrt(pj) : pj);
    }
    double zero = 0, x0 = row[0] + row[1], xh = row[0] - row[1];
    double p0 = x0 * x0 + zero * zero, ph = xh * xh + zero * zero;
    spectrum[f] = (float)(magnitude ? __builtin_sqrt(p0) : p0);
    spectrum[half * B + f] = (float)(magnitude ? __builtin_sqrt(ph) : ph);
  }
}

static void N(mel_block)(const float *spectrum, long bands, const long *start, const long *offsets,
                         const float *weights, float *mel) {
  for (long m = 0; m < bands; m++) {
    const float *w = weights + offsets[m];
    long n = offsets[m + 1] - offsets[m];
    const float *s = spectrum + start[m] * B;
    for (long lane = 0; lane < B; lane += W) {
      VF a = N(fsplat)(0), b = a, c = a, d = a;
      long j = 0;
      for (; j + 4 <= n; j += 4) {
        a = a + w[j] * N(fload)(s + j * B + lane);
        b = b + w[j + 1] * N(fload)(s + (j + 1) * B + lane);
        c = c + w[j + 2] * N(fload)(s + (j + 2) * B + lane);
        d = d + w[j + 3] * N(fload)(s + (j + 3) * B + lane);
      }
      for (; j < n; j++) a = a + w[j] * N(fload)(s + j * B + lane);
      N(fstore)((a + b) + (c + d), mel + m * B + lane);
    }
  }
}

// Band m's B lanes through `mode`, into dst[0 ..< B].
static inline __attribute__((always_inline)) void N(mel_lanes)(const float *src, int mode, float floor,
                                                               float scale, float offset, float *dst) {
  for (long lane = 0; lane < B; lane += W) {
    VF v = N(fload)(src + lane);
    if (mode != 0) {
      VF fl = N(fsplat)(floor);
      v = N(ln)(N(fselect)(v < fl, fl, v));
      if (mode == 2) v = scale * v - offset;
    }
    N(fstore)(v, dst + lane);
  }
}

static void N(mel_rows)(const float *mel, long bands, long count, int mode, float floor, float scale,
                        float offset, float *out, long ldout) {
  // Eight bands at a time: their lanes through `mode`, then 8x8 transposes so that each
  // frame's eight bands go out in one store.
  float lanes[8 * B];
  long m = 0;
  for (; m + 8 <= bands; m += 8) {
    for (int j = 0; j < 8; j++) N(mel_lanes)(mel + (m + j) * B, mode, floor, scale, offset, lanes + j * B);
    for (long f0 = 0; f0 < count; f0 += 8) {
      ek_v8f r[8];
      for (int j = 0; j < 8; j++) memcpy(&r[j], lanes + j * B + f0, sizeof r[j]);
      N(transpose8)(r);
      for (long i = 0; i < 8 && f0 + i < count; i++) memcpy(out + (f0 + i) * ldout + m, &r[i], sizeof r[i]);
    }
  }
  for (; m < bands; m++) {
    N(mel_lanes)(mel + m * B, mode, floor, scale, offset, lanes);
    for (long f = 0; f < count; f++) out[f * ldout + m] = lanes[f];
  }
}

static void N(log_floor)(float *values, long count, float floor) {
  VF fl = N(fsplat)(floor);
  long i = 0;
  for (; i + W <= count; i += W) {
    VF v = N(fload)(values + i);
    N(fstore)(N(ln)(N(fselect)(v < fl, fl, v)), values + i);
  }
  if (i < count) {
    float tmp[W];
    for (long j = 0; j < W; j++) tmp[j] = i + j < count ? (values[i + j] < floor ? floor : values[i + j]) : 1.0f;
    N(fstore)(N(ln)(N(fload)(tmp)), tmp);
    for (long j = 0; i + j < count; j++) values[i + j] = tmp[j];
  }
}

// y = x B for (frames, size) rows x and the (size, stride) basis B, `count` columns kept.
// Four frames at a time, so four independent sums are in flight; each sum still starts at +0
// and adds the bands in order with a separate multiply and add, the same bits as the scalar
// code. y may be x itself: a group's rows are all read before its outputs are written, and
// count <= size, so no output lands on a row not yet read.
static void N(dct_rows)(const float *x, long frames, long size, const float *basis, long stride,
                        long count, float *y) {
  enum { G = 4 };
  float out[G * stride];
  for (long f0 = 0; f0 < frames; f0 += G) {
    long g = frames - f0 < G ? frames - f0 : G;
    const float *r[G];
    for (long q = 0; q < G; q++) r[q] = x + (f0 + (q < g ? q : 0)) * size;
    for (long c0 = 0; c0 < count; c0 += W) {
      VF s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};  /* every lane +0, as the scalar sums start */
      for (long j = 0; j < size; j++) {
        VF b = N(fload)(basis + j * stride + c0);
        s0 = s0 + b * r[0][j];
        s1 = s1 + b * r[1][j];
        s2 = s2 + b * r[2][j];
        s3 = s3 + b * r[3][j];
      }
      N(fstore)(s0, out + c0);
      N(fstore)(s1, out + stride + c0);
      N(fstore)(s2, out + 2 * stride + c0);
      N(fstore)(s3, out + 3 * stride + c0);
    }
    for (long q = 0; q < g; q++) memcpy(y + (f0 + q) * count, out + q * stride, count * sizeof(float));
  }
}

static const ek_feature_kernels N(feature_kernels) = {
  .level = EK_LEVEL,
  .window_frames = N(window_frames),
  .real_split = N(real_split),
  .split_power_block = N(split_power_block),
  .power_block = N(power_block),
  .mel_block = N(mel_block),
  .mel_rows = N(mel_rows),
  .log_floor = N(log_floor),
  .dct_rows = N(dct_rows),
};

#undef B
#undef VF
#undef VI
