// A guard for the moment before `main`, linked into the `bump` executable only.
//
// OpenBLAS starts its worker threads while the library is loaded, before `main` runs. When
// a thread cannot be created (the process limit, `ulimit -u` or RLIMIT_NPROC, is reached),
// it prints its own two lines and raises SIGINT, so the tool died as if Ctrl-C had been
// pressed (exit status 130) without saying why. The executable's pre-initializer runs
// before any library's initializer: it installs a SIGINT handler that tells OpenBLAS's
// raise (a signal the process sent itself, si_code SI_TKILL) from a real interrupt, explains
// the former and exits with status 1; a real interrupt keeps its default action. The
// executable's own initializer, which runs after the libraries', puts the previous handler
// back; `main` then installs the tool's handlers.

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "BumpStartup.h"

static struct sigaction previous_action;
static int armed = 0;

static void write_text(const char *text) {
  ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
  (void)ignored;
}

static void write_number(unsigned long long value) {
  char digits[24];
  int n = sizeof digits;
  digits[--n] = '\0';
  do {
    digits[--n] = (char)('0' + value % 10);
    value /= 10;
  } while (value > 0 && n > 0);
  write_text(digits + n);
}

static void startup_interrupt(int signal_number, siginfo_t *info, void *context) {
  (void)context;
  if (info != NULL && info->si_code == SI_TKILL && info->si_pid == getpid()) {
    write_text(
        "Error: OpenBLAS could not start its worker threads: the limit on processes and "
        "threads");
    struct rlimit limit;
    if (getrlimit(RLIMIT_NPROC, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      write_text(" (ulimit -u ");
      write_number((unsigned long long)limit.rlim_cur);
      write_text(")");
    } else {
      write_text(" (ulimit -u)");
    }
    write_text(" is reached; raise it, or run with OPENBLAS_NUM_THREADS=1\n");
    _exit(1);
  }
  // A real interrupt before `main`: its default action.
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

static void arm(int argc, char **argv, char **envp) {
  (void)argc;
  (void)argv;
  (void)envp;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO;
  action.sa_sigaction = startup_interrupt;
  if (sigaction(SIGINT, &action, &previous_action) == 0) armed = 1;
  // A parent may have started the process with SIGINT blocked (the mask is inherited): then
  // OpenBLAS's raise would stay pending, OpenBLAS would go on with a thread missing, and the
  // signal would arrive later, looking like Ctrl-C. `main` unblocks it anyway.
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  sigprocmask(SIG_UNBLOCK, &interrupt, NULL);
}

__attribute__((section(".preinit_array"), used)) static void (*const bump_preinit)(
    int, char **, char **) = arm;

__attribute__((constructor)) static void disarm(void) {
  if (armed) sigaction(SIGINT, &previous_action, NULL);
}

int bump_startup_guard_armed(void) { return armed; }
