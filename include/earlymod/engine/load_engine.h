// The load engine: how `earlymod load`, coldplug and init mode load
// modules. (modprobe keeps kmod's one-name-at-a-time walk, Context::load;
// both use the same per-module step, Context::prepare_step/run_step.)
//
// Names are submitted while the engine runs: each is resolved on the
// calling thread, and the modules it needs join one graph, the run's plan.
// Its nodes are kernel modules (one per module name, however many names
// or aliases lead to it), those of kmod's probe lists for the names; its
// edges say "before":
//   - a hard dependency (modules.dep) before the module that needs it: if
//     it fails, the module that needs it is skipped;
//   - a pre-softdep before its module, and a module before its
//     post-softdeps: order only (kmod ignores softdep failures).
// Loops (softdeps that point at each other, a cycle in modules.dep) are
// broken: if nothing can start, the earliest waiting node starts anyway.
// Worker threads take the modules whose
// prerequisites are done and make the kernel calls; the thread that calls
// wait() coordinates: it starts what is ready, records each outcome,
// reports it (Options::on_report, in completion order), and skips the
// users of a module that failed. Of the modules ready to start, the one
// earliest in the plan starts first (the order names were submitted in). Loading one at a time is the same engine
// with one worker.
//
// Rules:
//   - One outcome per module per run. A module is a single node: it is
//     never loaded twice at once, and a module that failed is not tried
//     again; a name submitted later that needs it is skipped, with that
//     module as the cause. A module already decided is not reported again.
//   - The blacklist (modprobe.d `blacklist`, modprobe.blacklist=) applies
//     to every submitted name, as systemd-modules-load and udev apply it
//     (libkmod's KMOD_PROBE_APPLY_BLACKLIST); a dependency of another
//     module is loaded even if blacklisted, as kmod does.
//   - A hard dependency that fails skips what needs it; softdeps only
//     order (kmod ignores their failures).
//   - Only the coordinating thread touches the resolver: workers get a
//     prepared step (file, options, command) and nothing else.
//   - A load still running after slow_note_ns is named in the log (at
//     warning level) every slow_note_ns: a finit_module() that does not
//     return cannot be interrupted, but it can be seen.
#pragma once

#include <pthread.h>
#include <stdint.h>

#include <string_view>

#include "earlymod/engine/context.h"
#include "earlymod/util/memory.h"

namespace earlymod {

class LoadEngine {
public:
    static constexpr uint64_t slow_note_ns = 5000000000ull;

    explicit LoadEngine(Context& ctx);
    LoadEngine(const LoadEngine&) = delete;
    LoadEngine& operator=(const LoadEngine&) = delete;
    // Waits for the loads still running (kernel calls cannot be taken
    // back), then ends the workers.
    ~LoadEngine();

    // Starts `workers` threads (1 to Context::max_jobs). If none can be
    // started, modules load one at a time on the thread calling wait().
    void start(unsigned workers);
    unsigned workers() const { return n_threads_ ? n_threads_ : 1; }

    // Adds name (a module name or an alias) to the run: what it resolves
    // to, and what that needs. Returns false when it resolves to nothing
    // (why says so: not found, or the index could not be read); the
    // caller decides how loud that is (a device without a driver is
    // normal). Never blocks on a load.
    bool submit(std::string_view name, Origin origin, Error* why = nullptr);

    // Coordinates until every module submitted so far has its outcome
    // (true), or until deadline_ns passes (CLOCK_MONOTONIC; 0: none; false).
    bool wait(uint64_t deadline_ns);
    // For callers that wait on more than the engine (init waits for the
    // root device and for uevents too): fd() becomes readable when a load
    // finishes; pump() then handles what finished and starts what is
    // ready, without blocking.
    int fd() const { return wake_[0]; }
    void pump();
    // Whether every module submitted so far has its outcome.
    bool idle() const;
    // Counts of the run so far.
    unsigned loaded() const { return n_loaded_; }
    // Of those, the modules first asked for with this origin.
    unsigned loaded(Origin origin) const { return n_loaded_by_[static_cast<int>(origin)]; }
    unsigned planned() const { return static_cast<unsigned>(jobs_.size()); }
    // The last failure of a required module (ok when none).
    const Error& last_failure() const { return last_failure_; }

private:
    struct Job;
    static void* worker_main(void* self);
    Job* new_job(Module* m, Origin origin);
    void decide_target(Module* m, Origin origin, Outcome outcome, const Error& error);
    void add_target(Module* m, Origin origin);
    void release_users(const Job& j);
    Job* take_next();
    void add_edge(uint32_t from, uint32_t to, bool hard);
    void release(uint32_t i);
    void release_ready();
    void complete(uint32_t i);
    void skip(uint32_t i, uint32_t cause);
    void finish_outcome(uint32_t i, Outcome outcome, const Error& error, uint64_t start, uint64_t end, int worker,
                        const Module* cause);
    void note_slow_loads(uint64_t now);
    bool break_loop();

    Context& ctx_;
    Resolver& resolver_;
    Arena arena_;
    Vec<Job*> jobs_;           // node index -> job (stable addresses)
    StrMap<uint32_t> by_name_; // module name -> node index
    Vec<Module*> scratch_;
    Vec<uint32_t> fresh_; // nodes added by the current submit()

    // Shared with the workers, under lock_.
    pthread_mutex_t lock_;
    pthread_cond_t work_;    // a job was queued, or stop
    int wake_[2] = {-1, -1}; // a pipe: a worker finished a job
    Vec<Job*> queue_;        // ready; taken in plan order (take_next)
    size_t queue_head_ = 0;
    Vec<uint32_t> finished_; // finished by a worker, not yet handled
    unsigned running_ = 0;
    bool stop_ = false;
    int next_worker_ = 0;

    pthread_t threads_[Context::max_jobs];
    unsigned n_threads_ = 0;
    unsigned pending_ = 0; // nodes without an outcome (coordinator only)
    unsigned n_loaded_ = 0;
    unsigned n_loaded_by_[3] = {};
    Error last_failure_;
    uint64_t next_slow_check_ = 0;
};

} // namespace earlymod
