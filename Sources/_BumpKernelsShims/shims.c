#include "BumpKernelsShims.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

// XCR0: which register states the operating system saves on a context switch. AVX needs
// the SSE and AVX states (bits 1, 2); AVX-512 also the opmask and upper-ZMM states (5–7).
static unsigned long long bumpkit_xgetbv0(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

unsigned int bumpkit_cpu_features(void) {
  unsigned int eax, ebx, ecx, edx, features = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
  if (!osxsave || !avx) return 0;
  unsigned long long xcr0 = bumpkit_xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return 0;
  if (fma) features |= BUMPKIT_CPU_FMA;
  if (__get_cpuid_max(0, 0) < 7) return features;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  if ((ebx >> 5) & 1) features |= BUMPKIT_CPU_AVX2;
  if (((ebx >> 16) & 1) && (xcr0 & 0xE6) == 0xE6) {
    features |= BUMPKIT_CPU_AVX512F;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    if ((eax >> 5) & 1) features |= BUMPKIT_CPU_AVX512BF16;
  }
  return features;
}
#else
unsigned int bumpkit_cpu_features(void) { return 0; }
#endif
