// Running install and remove commands from modprobe.d (issue 11).
//
//     CommandSpec spec;
//     spec.type = "install";
//     spec.module = "xfs";
//     spec.text = "/sbin/modprobe --ignore-install xfs && echo done";
//     spec.depth = inherited_command_depth() + 1;
//     spec.deadline_ns = monotonic_ns() + 60'000'000'000ull;   // or 0: none
//     Error e = run_shell_command(spec);
//
// What it does: runs `/bin/sh -c TEXT` as kmod does with system(), with
// two variables set for that child alone: MODPROBE_MODULE (the module,
// as kmod sets it) and EARLYMOD_COMMAND_DEPTH (how deeply commands are
// nested: a command that runs modprobe, whose module has a command...).
// It returns when the shell has exited and been reaped, or when the
// deadline has passed and the command has been killed.
//
// Why not system(): kmod sets MODPROBE_MODULE with setenv() around
// system(). earlymod runs commands from several worker threads at once,
// so with setenv() they saw each other's names and depths, and the depth
// leaked into later commands and into init='s environment. Here the
// process environment is never written: each child gets an envp of its
// own (the parent's environ, less any MODPROBE_MODULE and
// EARLYMOD_COMMAND_DEPTH, plus this command's two), and the shell is
// started with posix_spawn(), which runs no user code between fork and
// exec. system() also blocks SIGCHLD and ignores SIGINT process-wide,
// which is wrong with threads; and it waits for ever, so a command that
// hangs held the boot for ever: here a deadline kills it.
//
// Contract:
//  - Safe to call from several threads at once. Reads environ (nobody may
//    write it meanwhile: no setenv() anywhere in the process while
//    commands run) and never changes signal dispositions or masks.
//  - The child starts with every signal at its default action and an
//    empty signal mask (so what PID 1 ignores or blocks, the command does
//    not), and with the caller's stdin, stdout, stderr and other
//    descriptors not marked close-on-exec, as with system().
//  - With a deadline the command runs in a process group of its own; when
//    the deadline passes that whole group gets SIGKILL (the shell and
//    whatever it started, background jobs included), the shell is reaped,
//    and the result is ETIMEDOUT. A process that SIGKILL cannot end at
//    once (stuck in the kernel, as a hanging init_module is) is waited
//    for at most kill_grace_ns more; then the call returns anyway and the
//    process is left to reap_orphans(). Without a deadline the command
//    stays in the caller's process group, as with system(), so that
//    terminal job control and Ctrl-C treat it as part of modprobe.
//  - The caller must not set SIGCHLD to SIG_IGN (nor SA_NOCLDWAIT): the
//    kernel would then reap the shell and its exit status would be lost
//    (that is reported as ECHILD).
//
// How it waits, and PID 1: each call waits for its own child only, on a
// pidfd (pidfd_open, Linux 5.3) with poll(), which sleeps until the child
// exits, the deadline passes or the next progress report is due, and does
// not care how many other threads wait for other children. Where
// pidfd_open fails (older kernels, seccomp, no descriptors left) it
// falls back to waitpid(pid, WNOHANG) with sleeps from 1 ms growing to
// 20 ms. SIGCHLD handlers and sigtimedwait() are not used: a signal goes
// to one thread, which would have to pass it on to the others.
// As PID 1 (or a child subreaper) earlymod also inherits orphans, which
// must be reaped; a plain waitpid(-1) loop would steal the exit status of
// a running command. reap_orphans() is the loop to use instead: all
// reaping goes through one lock and a table of the running commands, so
// it reaps orphans and hands a command's status over to the thread that
// waits for it. Nothing else in the process may call wait(), waitpid(-1)
// or waitid(P_ALL) while commands run.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string_view>

#include "earlymod/util/error.h"

namespace earlymod {

struct CommandSpec;

// Called while a command runs, every report_every_ns (CLOCK_MONOTONIC
// time since it started), from the thread that called
// run_shell_command(): "install command for X still running after N s".
using CommandProgressFunction = void (*)(void* context, const CommandSpec& spec, uint64_t elapsed_ns);

struct CommandSpec {
    std::string_view type = "install"; // "install" or "remove": for messages only
    std::string_view module;           // MODPROBE_MODULE for the child; named in messages
    const char* text = nullptr;        // the shell command, $CMDLINE_OPTS already replaced
    unsigned long depth = 1;           // EARLYMOD_COMMAND_DEPTH for the child
                                       // (the caller's inherited_command_depth() + 1)
    uint64_t deadline_ns = 0;          // CLOCK_MONOTONIC (monotonic_ns()); 0: none
    uint64_t report_every_ns = 0;      // 0: no progress reports
    CommandProgressFunction on_progress = nullptr;
    void* progress_context = nullptr;

    // For tests: the environment to start from (null: environ), the shell
    // to run, and the wait used where the kernel has no pidfd_open.
    char* const* environment = nullptr;
    const char* shell = "/bin/sh";
    bool without_pidfd = false;
};

// After SIGKILL at the deadline, how long to wait for the command to
// exit before returning without having reaped it.
constexpr uint64_t kill_grace_ns = 1'000'000'000ull;

// Runs spec.text with `sh -c`, waits for it, and says how it went:
//   ok             the shell exited with status 0
//   EINVAL         "Error running install command 'TEXT' for module NAME: retcode N"
//                  (kmod's message, byte for byte), or killed by a signal:
//                  "install command 'TEXT' for module NAME was killed by signal N (NAME)"
//   ETIMEDOUT      "install command 'TEXT' for module NAME did not finish in S s: killed"
//                  (", but it has not exited yet" when it outlived kill_grace_ns)
//   ENOENT         "cannot run install command for NAME: /bin/sh is missing"
//   other errno    "Could not run install command 'TEXT' for module NAME: REASON"
//                  (kmod's message when the process cannot be started), and
//                  ENOMEM, EAGAIN (too many commands running at once),
//                  ECHILD (the status was taken by someone else's wait()).
// The depth limit (max_command_depth, ELOOP) is the caller's to check.
Error run_shell_command(const CommandSpec& spec);

// EARLYMOD_COMMAND_DEPTH of this process's environment: how deeply the
// command that started this process was nested (0: not started by a
// command, or an unreadable value). Reads the environment; call it once.
unsigned long inherited_command_depth();

// Reaps every child that has exited: orphans (as PID 1 or a child
// subreaper) are discarded, a running command's status is kept for the
// thread that waits for it, and a command given up after its deadline is
// reaped for good. Never blocks; safe from any thread, at any time.
// Returns how many children it reaped.
size_t reap_orphans();

} // namespace earlymod
