// MPI as Swift sees it. Open MPI defines its handles (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, …)
// as macros that take the address of a global object, which Swift does not import: these
// inline functions return them.
#ifndef BUMPKIT_MPI_SHIM_H
#define BUMPKIT_MPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm bumpkit_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype bumpkit_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype bumpkit_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype bumpkit_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype bumpkit_mpi_int(void) { return MPI_INT; }
static inline MPI_Op bumpkit_mpi_max(void) { return MPI_MAX; }
static inline int bumpkit_mpi_success(void) { return MPI_SUCCESS; }
static inline int bumpkit_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }

#endif
