#ifndef BUMPKIT_KERNELS_SHIMS_H
#define BUMPKIT_KERNELS_SHIMS_H

// Target features of the current build, as seen by the Clang importer. Swift has no
// `#if` for CPU features, but flags passed with `-Xcc -march=...` reach both the importer
// and Swift's code generation, so these constants tell the kernels what the build targets.
// The optimizer folds every branch on them away.

#if defined(__FMA__)
#define BUMPKIT_HAS_FMA 1
#else
#define BUMPKIT_HAS_FMA 0
#endif

#if defined(__AVX512F__)
#define BUMPKIT_HAS_AVX512 1
#else
#define BUMPKIT_HAS_AVX512 0
#endif

#if defined(__AVX2__)
#define BUMPKIT_HAS_AVX2 1
#else
#define BUMPKIT_HAS_AVX2 0
#endif

// CPU features of the machine the process runs on (CPUID, and XGETBV for the register
// state the operating system saves), as a bit set of the BUMPKIT_CPU_* flags below.
// 0 on other architectures.
#define BUMPKIT_CPU_FMA 1u
#define BUMPKIT_CPU_AVX2 2u
#define BUMPKIT_CPU_AVX512F 4u
#define BUMPKIT_CPU_AVX512BF16 8u
unsigned int bumpkit_cpu_features(void);

// Vector square roots for the optimizer loops. Swift's `SIMD.squareRoot()` compiles to one
// libm call per lane (with its errno check); these map to one vector instruction (vsqrtps /
// sqrtpd, or the widest the build targets), correctly rounded like the scalar root. Clang's
// extended vectors import into Swift as SIMD16<Float> and SIMD8<Double>.
typedef float bumpkit_float16 __attribute__((ext_vector_type(16)));
typedef double bumpkit_double8 __attribute__((ext_vector_type(8)));
static inline __attribute__((always_inline)) bumpkit_float16 bumpkit_sqrt_float16(bumpkit_float16 x) {
  return __builtin_elementwise_sqrt(x);
}
static inline __attribute__((always_inline)) bumpkit_double8 bumpkit_sqrt_double8(bumpkit_double8 x) {
  return __builtin_elementwise_sqrt(x);
}

// Non-temporal stores for the element-wise kernels' large outputs: the vector goes to memory
// without first reading its cache line in (a store otherwise costs a read and a write of the
// line), and other data stays in the caches (the line written is evicted if it was there).
// `p` must be aligned to the vector's size.
// Such stores are weakly ordered: a thread ends its part with bumpkit_store_fence() before
// another thread may read what it wrote. Extended vectors of 4, 8 and 16 floats and 2, 4 and
// 8 doubles import into Swift as the SIMD types of those widths.
typedef float bumpkit_float4 __attribute__((ext_vector_type(4)));
typedef float bumpkit_float8 __attribute__((ext_vector_type(8)));
typedef double bumpkit_double2 __attribute__((ext_vector_type(2)));
typedef double bumpkit_double4 __attribute__((ext_vector_type(4)));
#define BUMPKIT_STREAM_STORE(name, type, scalar) \
  static inline __attribute__((always_inline)) void name(scalar *p, type v) { \
    __builtin_nontemporal_store(v, (type *)p); \
  }
BUMPKIT_STREAM_STORE(bumpkit_stream_store_float4, bumpkit_float4, float)
BUMPKIT_STREAM_STORE(bumpkit_stream_store_float8, bumpkit_float8, float)
BUMPKIT_STREAM_STORE(bumpkit_stream_store_float16, bumpkit_float16, float)
BUMPKIT_STREAM_STORE(bumpkit_stream_store_double2, bumpkit_double2, double)
BUMPKIT_STREAM_STORE(bumpkit_stream_store_double4, bumpkit_double4, double)
BUMPKIT_STREAM_STORE(bumpkit_stream_store_double8, bumpkit_double8, double)
#undef BUMPKIT_STREAM_STORE

// Orders the calling thread's earlier non-temporal stores before its later stores (x86
// `sfence`; a full fence elsewhere).
static inline __attribute__((always_inline)) void bumpkit_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_sfence();
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

// One iteration of a spin-wait: tells the core that the thread is waiting (x86 `pause`,
// Arm `yield`), so that a spinning worker costs its sibling and the memory system less.
static inline __attribute__((always_inline)) void bumpkit_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

// Asks the core to bring the cache line holding `p` towards it for reading (a hint: no
// fault, no effect on results).
static inline __attribute__((always_inline)) void bumpkit_prefetch(const void *p) {
  __builtin_prefetch(p, 0, 3);
}

#endif
