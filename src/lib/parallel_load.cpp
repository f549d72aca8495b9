// Loading a whole plan with several workers.
//
// All resolution (the plan, options, paths, install commands) happens on
// the calling thread first: the resolver is not thread-safe and need not
// be. Workers only make kernel calls (and run install commands); the
// calling thread coordinates: it starts what is ready, records each
// outcome, skips the users of a failed hard dependency, and reports, in
// completion order. A module is a single node, so it is never loaded twice
// at the same time; a slow module holds up only what needs it.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "earlymod/earlymod.h"
#include "earlymod/load_plan.h"
#include "earlymod/output.h"

#include <new>

namespace earlymod {

namespace {

enum class State : uint8_t { waiting, queued, running, done };

struct Job {
    std::string_view params;
    std::string_view command;  // install command, when one applies
    bool install, builtin, unusable;
    State state;
    uint32_t waiting_for;      // unfinished prerequisites
    bool skip;                 // a hard dependency failed
    uint32_t skip_cause;
    // Filled by the worker:
    Outcome outcome;
    Error error;
    uint64_t start, end;
    int worker;
};

} // namespace

struct ParallelRun {
    Context* ctx;
    LoadPlan* plan;
    Job* jobs;
    uint32_t n;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t work = PTHREAD_COND_INITIALIZER;
    pthread_cond_t done = PTHREAD_COND_INITIALIZER;
    Vec<uint32_t> queue;      // ready to start, in plan order
    size_t queue_head = 0;
    Vec<uint32_t> finished;   // done by a worker, not yet handled
    bool stop = false;
    int next_worker_id = 0;
};

void* Context::worker_main(void* arg) {
    ParallelRun* run = static_cast<ParallelRun*>(arg);
    pthread_mutex_lock(&run->lock);
    int id = run->next_worker_id++;
    for (;;) {
        while (run->queue_head == run->queue.size() && !run->stop) pthread_cond_wait(&run->work, &run->lock);
        if (run->queue_head == run->queue.size()) break;
        uint32_t i = run->queue[run->queue_head++];
        Job& job = run->jobs[i];
        job.state = State::running;
        pthread_mutex_unlock(&run->lock);

        run->ctx->run_job(run->plan->nodes()[i].module, &job, id);

        pthread_mutex_lock(&run->lock);
        job.state = State::done;
        run->finished.push(i);
        pthread_cond_signal(&run->done);
    }
    pthread_mutex_unlock(&run->lock);
    return nullptr;
}

void Context::run_job(Module* m, void* job_ptr, int worker) {
    Job& job = *static_cast<Job*>(job_ptr);
    const Options& o = *options_;
    job.worker = worker;
    job.start = monotonic_ns();
    job.error = Error();
    if (job.unusable) {
        job.error = Error::make(EINVAL, "could not insert '%.*s': its modules.dep entry was refused",
                                static_cast<int>(m->name.size()), m->name.data());
        job.outcome = Outcome::failed;
    } else if (job.builtin || (!o.ignore_status && kernel_->state(m->name) == ModuleState::live)) {
        job.outcome = Outcome::present;
    } else if (o.dry_run) {
        job.outcome = Outcome::loaded;
    } else if (job.install) {
        job.error = run_command(m, "install", job.command, job.params);
        job.outcome = job.error.ok() ? Outcome::loaded : Outcome::failed;
    } else {
        // insert() only reads the resolver (the module's path), so workers
        // may share it.
        job.error = insert(m, job.params);
        job.outcome = job.error.ok() ? Outcome::loaded
                                     : job.error.code() == EEXIST ? Outcome::present : Outcome::failed;
    }
    job.end = monotonic_ns();
}

Error Context::load_parallel(const Vec<std::string_view>& names, unsigned workers, Vec<std::string_view>& not_found) {
    if (!index_error_.ok()) {
        for (std::string_view n : names) not_found.push(n);
        return index_error_;
    }
    const Options& o = *options_;
    LoadPlan* plan = new (std::nothrow) LoadPlan;
    if (!plan) return Error::make(ENOMEM, "out of memory");
    // Freed on every return: a coldplug pass or an init run makes one per call.
    struct PlanOwner {
        LoadPlan* plan;
        ~PlanOwner() { delete plan; }
    } plan_owner{plan};
    // 1. The plan, on this thread: every lookup and lazy fact now.
    Vec<Module*> found;
    Error plan_error;  // a target whose probe list was refused (a limit)
    for (std::string_view name : names) {
        found.clear();
        Error e = resolver_.lookup(name, found);
        if (!e.ok() || found.empty()) {
            not_found.push(name);
            continue;
        }
        for (Module* m : found) {
            if (!o.ignore_status && in_kernel(m)) {
                notify(m, Outcome::present, Error(), true, 0, 0);
                continue;
            }
            if ((m->has_alias || o.use_blacklist) && resolver_.is_blacklisted(m)) {
                notify(m, Outcome::blacklisted, Error(), true, 0, 0);
                continue;
            }
            if (Error e = plan->add(resolver_, m, o.ignore_commands); !e.ok()) {
                notify(m, Outcome::failed, e, true, 0, 0);
                plan_error = e;
            }
        }
    }
    plan->finish(resolver_);
    Vec<PlanNode>& nodes = plan->nodes();
    uint32_t n = static_cast<uint32_t>(nodes.size());
    if (n == 0) return plan_error;
    Job* jobs = static_cast<Job*>(resolver_.arena().alloc(n * sizeof(Job), alignof(Job)));
    if (!jobs) return Error::make(ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; ++i) {
        Module* m = nodes[i].module;
        Job& j = jobs[i];
        new (&j) Job();
        char buf[4096];
        std::string_view path = resolver_.path(m, buf, sizeof buf);
        std::string_view conf = resolver_.options(m);
        j.params = conf.empty() ? std::string_view("", 0) : resolver_.arena().concat(conf, " ");
        std::string_view command;
        j.install = resolver_.install_command(m, &command) && !m->ignore_command;
        j.command = command;
        j.builtin = path.empty() && !j.install && resolver_.is_builtin(m);
        j.unusable = m->unusable;
        j.waiting_for = nodes[i].n_before;
        j.worker = -1;
        if (j.install) report(Action::install, m, command, j.params);
        else if (!path.empty()) report(Action::insmod, m, path, j.params);
        else if (j.builtin) report(Action::builtin, m, m->name, j.params);
    }

    // 2. The workers.
    ParallelRun run;
    run.ctx = this;
    run.plan = plan;
    run.jobs = jobs;
    run.n = n;
    if (!run.queue.reserve(n) || !run.finished.reserve(n)) return Error::make(ENOMEM, "out of memory");
    if (workers < 1) workers = 1;
    if (workers > n) workers = n;
    pthread_t threads[max_jobs];
    unsigned started = 0;
    for (unsigned w = 0; w < workers && w < max_jobs; ++w) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&threads[started], &attr, worker_main, &run) == 0) ++started;
        pthread_attr_destroy(&attr);
    }
    if (started == 0) {
        log_message(log_warning, "could not start worker threads: loading one at a time");
        started = 0;
    }

    // 3. Coordinate.
    uint32_t handled = 0;
    pthread_mutex_lock(&run.lock);
    auto release_ready = [&]() {
        for (uint32_t i = 0; i < n; ++i) {
            Job& j = jobs[i];
            if (j.state == State::waiting && j.waiting_for == 0 && !j.skip) {
                j.state = State::queued;
                run.queue.push(i);
            }
        }
    };
    // Skips i and, transitively, whatever needs it; reported at once.
    Vec<uint32_t> stack;
    auto skip_users = [&](uint32_t failed) {
        stack.clear();
        stack.push(failed);
        while (!stack.empty()) {
            uint32_t f = stack.back();
            stack.pop();
            for (uint32_t k = 0; k < nodes[f].n_hard_users; ++k) {
                uint32_t u = nodes[f].hard_users[k];
                Job& ju = jobs[u];
                if (ju.state != State::waiting || ju.skip) continue;
                ju.skip = true;
                ju.skip_cause = failed;
                ju.state = State::done;
                ++handled;
                Module* cause = nodes[failed].module;
                Error why = Error::make(ECANCELED, "it needs %.*s, which failed", static_cast<int>(cause->name.size()),
                                        cause->name.data());
                notify(nodes[u].module, Outcome::skipped, why, nodes[u].target, 0, 0, nodes[u].required, -1, cause);
                // What waits for it only for order may go on.
                for (uint32_t q = 0; q < nodes[u].n_users; ++q) {
                    Job& jq = jobs[nodes[u].users[q]];
                    if (jq.waiting_for) --jq.waiting_for;
                }
                stack.push(u);
            }
        }
    };
    auto complete = [&](uint32_t i) {
        Job& j = jobs[i];
        ++handled;
        notify(nodes[i].module, j.outcome, j.error, nodes[i].target, j.start, j.end, nodes[i].required, j.worker);
        for (uint32_t k = 0; k < nodes[i].n_users; ++k) {
            Job& ju = jobs[nodes[i].users[k]];
            if (ju.waiting_for) --ju.waiting_for;
        }
        if (j.outcome == Outcome::failed) skip_users(i);
    };
    release_ready();
    while (handled < n) {
        if (started == 0) {
            // No threads: run the queue here, one at a time.
            if (run.queue_head < run.queue.size()) {
                uint32_t i = run.queue[run.queue_head++];
                jobs[i].state = State::running;
                pthread_mutex_unlock(&run.lock);
                run_job(nodes[i].module, &jobs[i], 0);
                pthread_mutex_lock(&run.lock);
                jobs[i].state = State::done;
                run.finished.push(i);
            }
        } else {
            pthread_cond_broadcast(&run.work);
        }
        bool busy = false;
        for (uint32_t i = 0; i < n; ++i) busy |= jobs[i].state == State::queued || jobs[i].state == State::running;
        if (run.finished.empty() && !busy) {
            // Nothing running and nothing ready: a loop. Start the earliest
            // waiting node anyway, as kmod's visited mark would.
            for (uint32_t i = 0; i < n; ++i) {
                if (jobs[i].state != State::waiting || jobs[i].skip) continue;
                log_message(log_debug, "dependency loop: starting %.*s before what it waits for",
                            static_cast<int>(nodes[i].module->name.size()), nodes[i].module->name.data());
                jobs[i].waiting_for = 0;
                break;
            }
            release_ready();
            continue;
        }
        while (run.finished.empty() && started) pthread_cond_wait(&run.done, &run.lock);
        // In completion order.
        for (size_t k = 0; k < run.finished.size(); ++k) {
            uint32_t i = run.finished[k];
            pthread_mutex_unlock(&run.lock);
            complete(i);
            pthread_mutex_lock(&run.lock);
        }
        run.finished.clear();
        release_ready();
    }
    run.stop = true;
    pthread_cond_broadcast(&run.work);
    pthread_mutex_unlock(&run.lock);
    for (unsigned w = 0; w < started; ++w) pthread_join(threads[w], nullptr);

    Error last = plan_error;
    for (uint32_t i = 0; i < n; ++i)
        if (nodes[i].required && (jobs[i].outcome == Outcome::failed || jobs[i].skip))
            last = jobs[i].skip ? Error::make(ECANCELED, "a dependency failed") : jobs[i].error;
    return last;
}

} // namespace earlymod
