// The initramfs's shell: see shell.h.
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "earlymod/engine/command.h"
#include "earlymod/util/output.h"

extern char** environ;

namespace earlymod {

namespace {

// How "/bin/sh exited" reads in the log.
void describe_status(int status, char* out, size_t cap) {
    if (WIFEXITED(status))
        snprintf(out, cap, "status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, cap, "wait status %#x", static_cast<unsigned>(status));
}

// Starts /bin/sh as a child on PID 1's console and waits for it. Returns
// false (errno set) when it could not be started; else its wait status.
bool run_shell(int* status) {
    // A close-on-exec pipe tells a failed execve (the child's errno) from
    // a shell that ran.
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return false;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return false;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        // Its own session with the console as its terminal, when the
        // kernel allows it: Ctrl-C and job control work in the shell.
        setsid();
        ioctl(0, TIOCSCTTY, 0);
        char sh[] = "/bin/sh";
        char* args[] = {sh, nullptr};
        execve("/bin/sh", args, environ);
        int e = errno;
        ssize_t w = write(p[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(p[1]);
    int child_errno = 0;
    ssize_t n;
    while ((n = read(p[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {}
    close(p[0]);
    // Only this child is waited for: waitpid(-1) could take the status of
    // an install command still running (command.h). Orphans the shell
    // leaves are reaped when it ends.
    pid_t w;
    while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR) {}
    reap_orphans();
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        errno = child_errno;
        return false;
    }
    if (w != pid) *status = 0; // cannot happen: nothing else reaps it
    return true;
}

} // namespace

// Says it in the kernel log (and so on the console) and, in case the
// console log level hides it, on /dev/console itself.
void say(int level, const char* fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_message(level, "%s", msg);
    if (level <= log_err) {
        int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            char line[600];
            int n = snprintf(line, sizeof line, "earlymod: %s\n", msg);
            if (n > 0)
                write_all(fd, line, static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1);
            close(fd);
        }
    }
}

// The way out of a failed boot: the initramfs's /bin/sh, run as a child
// (PID 1 must never exit: leaving a shell exec'd in its place would panic
// the kernel) and started again whenever it exits. A shell that exits at
// once (no console to read) is started again after a pause that doubles
// up to a minute, so the loop never keeps a CPU busy. Without a shell, or
// when it cannot start: say so and wait without spinning.
[[noreturn]] void emergency() {
    constexpr unsigned max_pause_s = 60;
    unsigned pause_s = 0;
    bool first = true;
    while (access("/bin/sh", X_OK) == 0) {
        say(log_err, first ? "starting /bin/sh" : "starting /bin/sh again");
        first = false;
        uint64_t started = monotonic_ns();
        int status = 0;
        if (!run_shell(&status)) {
            say(log_err, "could not start /bin/sh: %s", strerror(errno));
            break;
        }
        char how[64];
        describe_status(status, how, sizeof how);
        bool quick = monotonic_ns() - started < 1000000000ull;
        pause_s = !quick ? 0 : pause_s == 0 ? 1 : pause_s * 2 > max_pause_s ? max_pause_s : pause_s * 2;
        if (pause_s == 0) {
            say(log_err, "/bin/sh exited (%s): starting it again", how);
            continue;
        }
        say(log_err, "/bin/sh exited (%s) at once: starting it again in %u s", how, pause_s);
        struct timespec ts = {static_cast<time_t>(pause_s), 0};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    say(log_err, "no shell in the initramfs: waiting (the system cannot boot; power it off)");
    for (;;) pause();
}

BreakPoints break_points(const KernelParams& params) {
    BreakPoints b;
    for (const KernelParam& p : params.params()) {
        if (!param_key_equal(p.key, "rd.break") && !param_key_equal(p.key, "earlymod.break")) continue;
        std::string_view v = p.value;
        if (v.empty() || v == "pre-mount" || v == "premount") {
            b.pre_mount = true;
        } else if (v == "pre-switch" || v == "pre-pivot" || v == "postmount") {
            b.pre_switch = true;
        } else {
            log_message(log_warning, "%.*s=%.*s: not a break point earlymod knows (pre-mount, pre-switch): ignored",
                        SV_ARG(p.key), SV_ARG(v));
        }
    }
    return b;
}

void break_shell(const char* what) {
    if (access("/bin/sh", X_OK) != 0) {
        say(log_err, "break %s: no shell in the initramfs, going on", what);
        return;
    }
    say(log_err, "break %s: starting /bin/sh; boot goes on when it exits", what);
    int status = 0;
    if (!run_shell(&status)) {
        say(log_err, "break %s: could not start /bin/sh: %s; going on", what, strerror(errno));
        return;
    }
    char how[64];
    describe_status(status, how, sizeof how);
    say(log_notice, "break %s: /bin/sh exited (%s), going on", what, how);
}

} // namespace earlymod
