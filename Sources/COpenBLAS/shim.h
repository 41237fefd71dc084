#include <cblas.h>
/* openblas_set_num_threads / openblas_get_num_threads are declared in cblas.h (openblas_config). */

/* LAPACK routines exported by libopenblas (OpenBLAS implements potrf/potrs in C). Same prototypes as
   OpenBLAS's f77blas.h (blasint = int: this build has no OPENBLAS_USE64BITINT), which cblas.h does not include. */
int dpotrf_(char *uplo, int *n, double *a, int *lda, int *info);
/* The OPENBLAS_THREAD_TIMEOUT value OpenBLAS read when it loaded (0 = unset: its built-in default). */
int openblas_thread_timeout(void);
int dpotrs_(char *uplo, int *n, int *nrhs, double *a, int *lda, double *b, int *ldb, int *info);
