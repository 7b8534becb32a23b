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

#endif
