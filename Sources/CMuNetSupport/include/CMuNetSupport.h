#ifndef CMUNET_SUPPORT_H
#define CMUNET_SUPPORT_H
// Small C helpers for things Swift cannot express portably. Nothing here computes results:
// it probes the CPU and reads process telemetry.

/// 1 when the CPU runs AVX2 and FMA code (what the engine targets are compiled for), else 0.
int munet_cpu_has_avx2_fma(void);

/// 1 when the CPU (and OS) run AVX-512F/CD/BW/DQ/VL code plus AVX2 and FMA, else 0.
int munet_cpu_has_avx512(void);

/// Peak resident set size of this process in bytes (getrusage), or -1.
long long munet_peak_rss_bytes(void);

/// Monotonic clock in nanoseconds. Telemetry only: never an input to results.
unsigned long long munet_monotonic_ns(void);

/// Writes `message` to standard error and exits the process with `status`.
void munet_exit_with_message(const char *message, int status) __attribute__((noreturn));

/// A spin-wait hint (x86 `pause`): tells the CPU the thread is busy-waiting, which saves power
/// and lets a sibling hyper-thread run. Computes nothing.
static inline void munet_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/// 1 when standard output is a terminal.
int munet_stdout_is_terminal(void);

/// On SIGINT or SIGTERM: writes `message` (copied) to stderr and exits with 128 + the signal,
/// without unwinding (a commit in progress is atomic, so nothing committed is lost).
void munet_install_interrupt_message(const char *message);

/// Flushes standard output.
void munet_flush_stdout(void);

#endif
