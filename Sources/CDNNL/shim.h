// oneDNN (Debian's libdnnl-dev): the integer GEMM (dnnl_gemm_u8s8s32) and the CPU-ISA query.
#include <oneapi/dnnl/dnnl.h>
// Debian's libdnnl runs on OpenMP (libgomp); each call's thread count is the caller's OpenMP one.
void omp_set_num_threads(int n);
