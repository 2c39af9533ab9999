#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
// Resolved through pkg-config `openblas`, so this is OpenBLAS's own cblas.h (with openblas_*),
// never netlib's.
#include <cblas.h>
#endif
