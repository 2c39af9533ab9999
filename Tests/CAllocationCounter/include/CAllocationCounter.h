#ifndef CALLOCATION_COUNTER_H
#define CALLOCATION_COUNTER_H
// Test-only heap allocation counter. Linking this target into a test executable replaces
// malloc/calloc/realloc/memalign/posix_memalign/aligned_alloc with thin wrappers around glibc's
// __libc_* entry points that count calls on threads where counting is switched on.
// Counting is per thread so that tests running in parallel do not disturb each other.

/// Starts counting on the calling thread (and zeroes its count).
void munet_allocation_count_begin(void);
/// Stops counting on the calling thread and returns the number of allocations it made.
long munet_allocation_count_end(void);
/// 1 when the wrappers are in effect (glibc), 0 when counting is unavailable.
int munet_allocation_counting_available(void);

#endif
