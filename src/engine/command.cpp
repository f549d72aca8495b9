// install/remove commands: posix_spawn with an envp per child, a deadline,
// and one lock through which every wait goes. See command.h for why.
#include "earlymod/engine/command.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 // the same number on every architecture (Linux 5.3)
#endif

namespace earlymod {

namespace {

constexpr std::string_view module_var = "MODPROBE_MODULE=";
constexpr std::string_view depth_var = "EARLYMOD_COMMAND_DEPTH=";

// The children this process waits for. All reaping (run_shell_command's
// and reap_orphans') happens under table_lock, so a status is never taken
// by the wrong waiter. The spawn happens under it too: a child that exits
// at once is already in the table when reap_orphans() sees it.
enum class SlotState { free, running, reaped, abandoned };
struct Slot {
    pid_t pid;
    SlotState state;
    int status; // reaped: the status reap_orphans() took for the waiter
};
// Commands run from the worker threads (at most Context::max_jobs), plus
// those given up after their deadline that have not exited yet.
constexpr size_t max_children = 64;
pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
Slot table[max_children];

// pidfd_open: 0 not tried yet, 1 works, -1 the kernel has none (ENOSYS).
int pidfd_support = 0;

int open_pidfd(pid_t pid) {
    if (__atomic_load_n(&pidfd_support, __ATOMIC_RELAXED) < 0) return -1;
    long fd = syscall(SYS_pidfd_open, static_cast<long>(pid), 0L);
    if (fd >= 0) {
        __atomic_store_n(&pidfd_support, 1, __ATOMIC_RELAXED);
        return static_cast<int>(fd);
    }
    if (errno == ENOSYS) __atomic_store_n(&pidfd_support, -1, __ATOMIC_RELAXED);
    return -1; // other failures (EMFILE, seccomp's EPERM): poll this child
}

// Under table_lock. Frees a slot whose abandoned child has exited since.
void sweep_abandoned() {
    for (Slot& s : table) {
        if (s.state != SlotState::abandoned) continue;
        int status;
        pid_t w = waitpid(s.pid, &status, WNOHANG);
        if (w == s.pid || (w < 0 && errno == ECHILD)) s.state = SlotState::free;
    }
}

Slot* free_slot() {
    for (Slot& s : table)
        if (s.state == SlotState::free) return &s;
    sweep_abandoned();
    for (Slot& s : table)
        if (s.state == SlotState::free) return &s;
    return nullptr;
}

enum class Wait { running, exited, lost };

// Takes the child's status if it has exited (the slot is then freed).
Wait take_status(Slot* slot, pid_t pid, int* status) {
    pthread_mutex_lock(&table_lock);
    Wait result = Wait::running;
    if (slot->state == SlotState::reaped) {
        *status = slot->status;
        result = Wait::exited;
    } else {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            result = Wait::exited;
        else if (w < 0 && errno != EINTR)
            result = Wait::lost;
    }
    if (result != Wait::running) slot->state = SlotState::free;
    pthread_mutex_unlock(&table_lock);
    return result;
}

// After the grace period: leave the child to reap_orphans(), unless it
// was reaped meanwhile.
Wait abandon(Slot* slot, int* status) {
    pthread_mutex_lock(&table_lock);
    Wait result = Wait::running;
    if (slot->state == SlotState::reaped) {
        *status = slot->status;
        slot->state = SlotState::free;
        result = Wait::exited;
    } else {
        slot->state = SlotState::abandoned;
    }
    pthread_mutex_unlock(&table_lock);
    return result;
}

// Sleeps until the child may have exited or `ns` have passed (ns == 0:
// no limit). With a pidfd poll() wakes up at the exit; without one, a
// sleep that grows from 1 ms to 20 ms.
void wait_a_while(int pidfd, uint64_t ns, uint64_t* backoff_ns) {
    if (pidfd >= 0) {
        int ms = -1;
        if (ns) {
            uint64_t m = (ns + 999'999) / 1'000'000; // round up: never wake just short of it
            ms = m > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(m);
        }
        struct pollfd p = {pidfd, POLLIN, 0};
        poll(&p, 1, ms); // EINTR: the caller looks again
        return;
    }
    uint64_t step = *backoff_ns;
    if (ns && ns < step) step = ns;
    struct timespec ts = {static_cast<time_t>(step / 1'000'000'000), static_cast<long>(step % 1'000'000'000)};
    nanosleep(&ts, nullptr);
    if (*backoff_ns < 20'000'000) *backoff_ns *= 2;
}

// The child's environment: the parent's, less our two variables, plus
// this command's. One allocation, freed by the caller.
char** make_environment(const CommandSpec& spec) {
    char* const* env = spec.environment ? spec.environment : environ;
    size_t n = 0;
    while (env && env[n]) ++n;
    char depth[24];
    int dl = snprintf(depth, sizeof depth, "%lu", spec.depth);
    size_t strings = module_var.size() + spec.module.size() + 1 + depth_var.size() + static_cast<size_t>(dl) + 1;
    char** envp = static_cast<char**>(malloc((n + 3) * sizeof(char*) + strings));
    if (!envp) return nullptr;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        std::string_view e = env[i];
        if (e.substr(0, module_var.size()) == module_var || e.substr(0, depth_var.size()) == depth_var) continue;
        envp[k++] = env[i];
    }
    char* p = reinterpret_cast<char*>(envp + n + 3);
    envp[k++] = p;
    memcpy(p, module_var.data(), module_var.size());
    p += module_var.size();
    memcpy(p, spec.module.data(), spec.module.size());
    p += spec.module.size();
    *p++ = '\0';
    envp[k++] = p;
    memcpy(p, depth_var.data(), depth_var.size());
    p += depth_var.size();
    memcpy(p, depth, static_cast<size_t>(dl) + 1);
    envp[k] = nullptr;
    return envp;
}

} // namespace

Error run_shell_command(const CommandSpec& spec) {
    int tl = static_cast<int>(spec.type.size());
    const char* type = spec.type.data();
    int nl = static_cast<int>(spec.module.size());
    const char* name = spec.module.data();
    const char* text = spec.text ? spec.text : "";
    const char* shell = spec.shell ? spec.shell : "/bin/sh";
    bool own_group = spec.deadline_ns != 0;

    char** envp = make_environment(spec);
    if (!envp) return Error::make(ENOMEM, "out of memory starting %.*s command for %.*s", tl, type, nl, name);

    // Every signal at its default action and none blocked in the child,
    // whatever this process ignores or blocks (PID 1, the worker threads).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_group) flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setflags(&attr, flags);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(text), nullptr};

    pid_t pid = -1;
    int pidfd = -1;
    int rc;
    pthread_mutex_lock(&table_lock);
    Slot* slot = free_slot();
    if (!slot) {
        rc = EAGAIN;
    } else {
        rc = posix_spawn(&pid, shell, nullptr, &attr, argv, envp);
        if (rc == 0) {
            *slot = Slot{pid, SlotState::running, 0};
            if (!spec.without_pidfd) pidfd = open_pidfd(pid); // before anyone can reap it: the pid is still ours
        }
    }
    pthread_mutex_unlock(&table_lock);
    posix_spawnattr_destroy(&attr);
    free(envp);

    if (!slot)
        return Error::make(EAGAIN, "cannot run %.*s command for %.*s: %zu commands already running", tl, type, nl, name,
                           max_children);
    if (rc == ENOENT)
        return Error::make(ENOENT, "cannot run %.*s command for %.*s: %s is missing", tl, type, nl, name, shell);
    if (rc != 0)
        return Error::make(rc, "Could not run %.*s command '%s' for module %.*s: %s", tl, type, text, nl, name,
                           strerror(rc));

    uint64_t start = monotonic_ns();
    uint64_t every = spec.on_progress ? spec.report_every_ns : 0;
    uint64_t next_report = every ? start + every : 0;
    uint64_t backoff = 1'000'000;
    int status = 0;
    Wait w;
    bool timed_out = false;
    uint64_t ran = 0;
    for (;;) {
        w = take_status(slot, pid, &status);
        if (w != Wait::running) break;
        uint64_t now = monotonic_ns();
        if (spec.deadline_ns && now >= spec.deadline_ns) {
            timed_out = true;
            ran = now - start;
            break;
        }
        if (next_report && now >= next_report) {
            spec.on_progress(spec.progress_context, spec, now - start);
            next_report += every;
            if (next_report <= now) next_report = now + every;
            continue;
        }
        uint64_t wake = spec.deadline_ns;
        if (next_report && (!wake || next_report < wake)) wake = next_report;
        wait_a_while(pidfd, wake ? wake - now : 0, &backoff);
    }

    bool gone = true;
    if (timed_out) {
        // The whole group: the shell and what it started. The shell is not
        // reaped yet, so its pid (the group's id) cannot have been reused.
        kill(own_group ? -pid : pid, SIGKILL);
        uint64_t until = monotonic_ns() + kill_grace_ns;
        backoff = 1'000'000;
        for (;;) {
            w = take_status(slot, pid, &status);
            if (w != Wait::running) break;
            uint64_t now = monotonic_ns();
            if (now >= until) {
                w = abandon(slot, &status);
                gone = w != Wait::running;
                break;
            }
            wait_a_while(pidfd, until - now, &backoff);
        }
    }
    if (pidfd >= 0) close(pidfd);

    if (timed_out) {
        uint64_t tenths = (ran + 50'000'000) / 100'000'000; // since the shell started, to the nearest 0.1 s
        return Error::make(ETIMEDOUT, "%.*s command '%s' for module %.*s did not finish in %llu.%llu s: killed%s", tl,
                           type, text, nl, name, static_cast<unsigned long long>(tenths / 10),
                           static_cast<unsigned long long>(tenths % 10), gone ? "" : ", but it has not exited yet");
    }
    if (w == Wait::lost)
        return Error::make(ECHILD, "%.*s command '%s' for module %.*s: its exit status was taken by another wait()", tl,
                           type, text, nl, name);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return Error::make(EINVAL, "Error running %.*s command '%s' for module %.*s: retcode %d", tl, type, text, nl,
                           name, WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return Error::make(EINVAL, "%.*s command '%s' for module %.*s was killed by signal %d (%s)", tl, type, text, nl,
                           name, WTERMSIG(status), strsignal(WTERMSIG(status)));
    return {};
}

unsigned long inherited_command_depth() {
    unsigned long depth = 0;
    const char* d = getenv("EARLYMOD_COMMAND_DEPTH");
    if (!d || !parse_uint(d, &depth)) return 0;
    return depth;
}

size_t reap_orphans() {
    size_t reaped = 0;
    pthread_mutex_lock(&table_lock);
    for (;;) {
        // Look first (WNOWAIT), then reap that one child by pid, so that a
        // running command's status can be kept for its waiter.
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR) continue;
            break; // ECHILD: no children at all
        }
        pid_t pid = info.si_pid;
        if (pid <= 0) break; // children, none exited
        int status;
        if (waitpid(pid, &status, WNOHANG) != pid) break;
        ++reaped;
        for (Slot& s : table) {
            if (s.pid != pid || s.state == SlotState::free || s.state == SlotState::reaped) continue;
            if (s.state == SlotState::running) {
                s.state = SlotState::reaped;
                s.status = status;
            } else {
                s.state = SlotState::free; // abandoned: its waiter has gone
            }
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return reaped;
}

} // namespace earlymod
