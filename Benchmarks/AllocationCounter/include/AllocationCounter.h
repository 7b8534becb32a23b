#ifndef BUMPKIT_ALLOCATION_COUNTER_H
#define BUMPKIT_ALLOCATION_COUNTER_H
/// Starts (1) or stops (0) counting heap allocations.
void bench_alloc_enable(int on);
/// Heap allocations (malloc, calloc, realloc, aligned allocations) counted so far.
long bench_alloc_count(void);
#endif
