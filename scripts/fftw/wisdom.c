// Prints FFTW wisdom (FFTW_PATIENT plans) for the transforms RealFFT runs: complex forward,
// out of place, one transform, of half of each common even FFT size. See make-wisdom.sh.
#include <fftw3.h>
#include <stdio.h>

int main(void) {
  // Halves of FFT sizes 128, 256, 400, 512, 1024, 2048 and 4096.
  static const int halves[] = {64, 128, 200, 256, 512, 1024, 2048};
  for (unsigned i = 0; i < sizeof halves / sizeof halves[0]; i++) {
    fftw_complex *in = fftw_alloc_complex(halves[i]), *out = fftw_alloc_complex(halves[i]);
    fftw_plan plan = fftw_plan_dft_1d(halves[i], in, out, FFTW_FORWARD, FFTW_PATIENT);
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
  }
  fftw_export_wisdom_to_file(stdout);
  return 0;
}
