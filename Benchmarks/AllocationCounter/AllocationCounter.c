// Counts heap allocations of the benchmark process: defining malloc and friends in the
// executable interposes them for every library, and glibc's __libc_* entry points do the work.
// Linked only into bump-bench, never into the library.
#include <stddef.h>
#include <stdatomic.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static atomic_long counter;
static atomic_int enabled;
void bench_alloc_enable(int on) { atomic_store(&enabled, on); }
long bench_alloc_count(void) { return atomic_load(&counter); }
void *malloc(size_t n) { if (atomic_load_explicit(&enabled, memory_order_relaxed)) atomic_fetch_add(&counter, 1); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { if (atomic_load_explicit(&enabled, memory_order_relaxed)) atomic_fetch_add(&counter, 1); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { if (atomic_load_explicit(&enabled, memory_order_relaxed)) atomic_fetch_add(&counter, 1); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { if (atomic_load_explicit(&enabled, memory_order_relaxed)) atomic_fetch_add(&counter, 1); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { if (atomic_load_explicit(&enabled, memory_order_relaxed)) atomic_fetch_add(&counter, 1); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) { if (atomic_load_explicit(&enabled, memory_order_relaxed)) atomic_fetch_add(&counter, 1); *p = __libc_memalign(a, n); return *p ? 0 : 12; }
