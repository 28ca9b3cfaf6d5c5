// oneDNN (Debian's libdnnl-dev): the integer GEMM (dnnl_gemm_u8s8s32) and the CPU-ISA query.
#include <oneapi/dnnl/dnnl.h>
// Debian's libdnnl runs on OpenMP (libgomp); its thread count is OpenMP's.
void omp_set_num_threads(int n);
int omp_get_max_threads(void);
