#include "CMuNetSupport.h"
#include <sys/resource.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <signal.h>
#include <string.h>

int munet_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 1;
#endif
}

int munet_cpu_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // compiler-rt sets these only when the OS also saves the AVX-512 register state (XCR0).
  return munet_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
#else
  return 0;
#endif
}

long long munet_peak_rss_bytes(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return (long long)usage.ru_maxrss * 1024LL;  // Linux reports kilobytes.
}

unsigned long long munet_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

void munet_exit_with_message(const char *message, int status) {
  fputs(message, stderr);
  exit(status);
}

int munet_stdout_is_terminal(void) { return isatty(STDOUT_FILENO); }

void munet_flush_stdout(void) { fflush(stdout); }

static char interrupt_message[512];
static size_t interrupt_message_length;

static void interrupt_handler(int signal_number) {
  ssize_t ignored = write(2, interrupt_message, interrupt_message_length);
  (void)ignored;
  _exit(128 + signal_number);
}

void munet_install_interrupt_message(const char *message) {
  size_t length = strlen(message);
  if (length >= sizeof(interrupt_message)) length = sizeof(interrupt_message) - 1;
  memcpy(interrupt_message, message, length);
  interrupt_message_length = length;
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = interrupt_handler;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);
}
