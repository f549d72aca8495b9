// The command runner (issue 11): commands run from many threads at once
// each see their own MODPROBE_MODULE and EARLYMOD_COMMAND_DEPTH and leave
// the process environment alone; exit statuses, signals and deadlines give
// the documented errors; nothing is left running after a deadline; and
// reap_orphans() never takes a running command's status. Only /bin/sh and
// coreutils are run: no kernel module is ever loaded.
#include <doctest/doctest.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "earlymod/engine/command.h"
#include "earlymod/util/output.h"
#include "fixture.h"
#include "watchdog.h"

using namespace earlymod;

namespace {

constexpr uint64_t ms = 1'000'000;

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Orphans of the commands come to this process while it lives, as they
// come to earlymod as PID 1; reap_orphans() reaps them.
struct Subreaper {
    Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
    ~Subreaper() {
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        reap_orphans();
    }
};

// Whether the process is gone (reaped), reaping orphans meanwhile; waits
// at most two seconds.
bool gone(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
        reap_orphans();
        if (kill(pid, 0) < 0 && errno == ESRCH) return true;
        usleep(10'000);
    }
    return false;
}

pid_t pid_in(const fixture::TempDir& dir, const char* file) {
    return static_cast<pid_t>(atoi(dir.read(file).c_str()));
}

} // namespace

TEST_CASE("commands from 16 threads each see their own module and depth") {
    fixture::Watchdog watchdog("16 threads of commands", 60);
    fixture::TempDir dir;
    CHECK(getenv("MODPROBE_MODULE") == nullptr);
    CHECK(getenv("EARLYMOD_COMMAND_DEPTH") == nullptr);
    // A stale pair in the environment handed down: the child must see
    // only its own (one of each).
    char stale_module[] = "MODPROBE_MODULE=stale";
    char stale_depth[] = "EARLYMOD_COMMAND_DEPTH=7";
    char path[] = "PATH=/usr/bin:/bin";
    char* stale_env[] = {stale_module, path, stale_depth, nullptr};

    std::string text =
        "printf '%s %s %s\\n' \"$MODPROBE_MODULE\" \"$EARLYMOD_COMMAND_DEPTH\" "
        "\"$(env | grep -c -e ^MODPROBE_MODULE= -e ^EARLYMOD_COMMAND_DEPTH=)\" > '" +
        dir.path() + "'/\"$MODPROBE_MODULE\"";
    constexpr int threads = 16, per_thread = 2;
    std::atomic<int> ready{0};
    std::vector<Error> errors(threads * per_thread);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < threads) std::this_thread::yield(); // start together
            for (int k = 0; k < per_thread; ++k) {
                std::string name = "mod" + std::to_string(t) + "_" + std::to_string(k);
                CommandSpec spec;
                spec.module = name;
                spec.text = text.c_str();
                spec.depth = static_cast<unsigned long>(t % 7 + 1);
                if (k == 1) spec.environment = stale_env;
                spec.without_pidfd = t % 4 == 3;
                spec.deadline_ns = monotonic_ns() + 30'000 * ms;
                errors[t * per_thread + k] = run_shell_command(spec);
            }
        });
    }
    for (std::thread& th : pool) th.join();

    for (int t = 0; t < threads; ++t) {
        for (int k = 0; k < per_thread; ++k) {
            std::string name = "mod" + std::to_string(t) + "_" + std::to_string(k);
            CAPTURE(name);
            const Error& e = errors[t * per_thread + k];
            CHECK_MESSAGE(e.ok(), e.message());
            CHECK(dir.read(name) == name + " " + std::to_string(t % 7 + 1) + " 2\n");
        }
    }
    CHECK(getenv("MODPROBE_MODULE") == nullptr);
    CHECK(getenv("EARLYMOD_COMMAND_DEPTH") == nullptr);
}

TEST_CASE("a command's exit status gives kmod's message") {
    fixture::Watchdog watchdog("exit status", 30);
    CommandSpec spec;
    spec.module = "foo";
    spec.text = "exit 3";
    Error e = run_shell_command(spec);
    CHECK(e.code() == EINVAL);
    CHECK(std::string(e.message()) == "Error running install command 'exit 3' for module foo: retcode 3");

    spec.type = "remove";
    spec.text = "true; false";
    e = run_shell_command(spec);
    CHECK(std::string(e.message()) == "Error running remove command 'true; false' for module foo: retcode 1");

    spec.text = "exit 0";
    CHECK(run_shell_command(spec).ok());
}

TEST_CASE("a missing shell is ENOENT, naming it") {
    CommandSpec spec;
    spec.module = "foo";
    spec.text = "true";
    spec.shell = "/nonexistent/sh";
    Error e = run_shell_command(spec);
    CHECK(e.code() == ENOENT);
    CHECK(std::string(e.message()) == "cannot run install command for foo: /nonexistent/sh is missing");
}

TEST_CASE("a command killed by a signal says which, even one this process ignores") {
    fixture::Watchdog watchdog("signal", 30);
    // A shell started with SIGTERM ignored could not undo it: the child
    // must get the default action back.
    struct sigaction ignore = {}, saved = {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &ignore, &saved);
    CommandSpec spec;
    spec.module = "sig";
    spec.text = "kill -TERM $$; sleep 5";
    Error e = run_shell_command(spec);
    sigaction(SIGTERM, &saved, nullptr);
    CHECK(e.code() == EINVAL);
    CHECK_MESSAGE(has(e.message(), "install command 'kill -TERM $$; sleep 5' for module sig was killed by signal 15 ("),
                  e.message());
}

TEST_CASE("a command past its deadline is killed with what it started") {
    fixture::Watchdog watchdog("deadline", 30);
    Subreaper subreaper;
    fixture::TempDir dir;
    // Both waits: on a pidfd, and without one (kernels before 5.3).
    SUBCASE("sleep 30") {
        for (bool without_pidfd : {false, true}) {
            CAPTURE(without_pidfd);
            CommandSpec spec;
            spec.module = "slow";
            spec.without_pidfd = without_pidfd;
            std::string text = "echo $$ > '" + dir.path() + "/sh'; sleep 30";
            spec.text = text.c_str();
            uint64_t start = monotonic_ns();
            spec.deadline_ns = start + 300 * ms;
            Error e = run_shell_command(spec);
            uint64_t took = monotonic_ns() - start;
            CHECK(e.code() == ETIMEDOUT);
            CHECK_MESSAGE(has(e.message(), "install command '" + text + "' for module slow did not finish in 0."),
                          e.message());
            CHECK_MESSAGE(has(e.message(), " s: killed"), e.message());
            CHECK(!has(e.message(), "not exited"));
            CHECK(took >= 300 * ms);
            CHECK(took < 2000 * ms);
            pid_t sh = pid_in(dir, "sh");
            REQUIRE(sh > 0);
            CHECK(gone(sh));
        }
    }
    SUBCASE("a background job of the command goes too") {
        for (bool without_pidfd : {false, true}) {
            CAPTURE(without_pidfd);
            CommandSpec spec;
            spec.module = "slow_bg";
            spec.without_pidfd = without_pidfd;
            std::string text =
                "echo $$ > '" + dir.path() + "/sh'; sh -c 'sleep 30 & echo $! > \"" + dir.path() + "/bg\"; sleep 30'";
            spec.text = text.c_str();
            uint64_t start = monotonic_ns();
            spec.deadline_ns = start + 300 * ms;
            Error e = run_shell_command(spec);
            CHECK(e.code() == ETIMEDOUT);
            CHECK(monotonic_ns() - start < 2000 * ms);
            pid_t sh = pid_in(dir, "sh"), bg = pid_in(dir, "bg");
            REQUIRE(sh > 0);
            REQUIRE(bg > 0);
            CHECK(gone(sh));
            CHECK(gone(bg));
        }
    }
}

TEST_CASE("progress reports while a command runs") {
    fixture::Watchdog watchdog("progress", 30);
    struct Seen {
        std::vector<uint64_t> elapsed;
        std::string module;
    } seen;
    CommandSpec spec;
    spec.module = "progress";
    spec.text = "sleep 0.5";
    spec.report_every_ns = 100 * ms;
    spec.progress_context = &seen;
    spec.on_progress = [](void* context, const CommandSpec& s, uint64_t elapsed_ns) {
        Seen* seen = static_cast<Seen*>(context);
        seen->elapsed.push_back(elapsed_ns);
        seen->module = std::string(s.module);
    };
    CHECK(run_shell_command(spec).ok());
    CHECK(seen.elapsed.size() >= 3);
    CHECK(seen.elapsed.size() <= 6);
    for (size_t i = 1; i < seen.elapsed.size(); ++i) CHECK(seen.elapsed[i] > seen.elapsed[i - 1]);
    if (!seen.elapsed.empty()) CHECK(seen.elapsed[0] >= 100 * ms);
    CHECK(seen.module == "progress");
}

TEST_CASE("reap_orphans reaps orphans and never a running command's status") {
    fixture::Watchdog watchdog("reap_orphans", 60);
    Subreaper subreaper;
    std::atomic<bool> done{false};
    std::atomic<size_t> reaped{0};
    std::thread reaper([&] {
        while (!done.load()) {
            reaped += reap_orphans();
            usleep(200);
        }
    });
    constexpr int threads = 8, rounds = 4;
    std::vector<std::string> messages(threads * rounds);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int r = 0; r < rounds; ++r) {
                // The background sleep outlives its shell: an orphan.
                std::string text = "sleep 0.05 & exit " + std::to_string(t + 1);
                std::string name = "orphan" + std::to_string(t);
                CommandSpec spec;
                spec.module = name;
                spec.text = text.c_str();
                spec.deadline_ns = monotonic_ns() + 20'000 * ms;
                spec.without_pidfd = t % 2 == 1;
                messages[t * rounds + r] = run_shell_command(spec).message();
            }
        });
    }
    for (std::thread& th : pool) th.join();
    done = true;
    reaper.join();
    for (int t = 0; t < threads; ++t)
        for (int r = 0; r < rounds; ++r)
            CHECK(messages[t * rounds + r] == "Error running install command 'sleep 0.05 & exit " +
                                                  std::to_string(t + 1) + "' for module orphan" + std::to_string(t) +
                                                  ": retcode " + std::to_string(t + 1));
    // Every orphan ends and is reaped: no child is left, zombie or not.
    bool none_left = false;
    for (int i = 0; i < 300 && !none_left; ++i) {
        reaped += reap_orphans();
        siginfo_t info = {};
        none_left = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
        if (!none_left) usleep(10'000);
    }
    CHECK(none_left);
    CHECK(reaped.load() >= static_cast<size_t>(threads * rounds)); // the orphans, some shells too
}

TEST_CASE("inherited_command_depth reads EARLYMOD_COMMAND_DEPTH") {
    // Single-threaded here: the only setenv() in these tests.
    CHECK(inherited_command_depth() == 0);
    setenv("EARLYMOD_COMMAND_DEPTH", "3", 1);
    CHECK(inherited_command_depth() == 3);
    setenv("EARLYMOD_COMMAND_DEPTH", "junk", 1);
    CHECK(inherited_command_depth() == 0);
    unsetenv("EARLYMOD_COMMAND_DEPTH");
    CHECK(inherited_command_depth() == 0);
}
