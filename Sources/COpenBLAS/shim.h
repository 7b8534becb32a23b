#ifndef BUMPKIT_COPENBLAS_SHIM_H
#define BUMPKIT_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
