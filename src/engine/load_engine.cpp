// The load engine (load_engine.h): one plan that grows while it runs,
// worker threads that make the kernel calls, and a coordinating thread
// that owns the resolver and the plan.
#include "earlymod/engine/load_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <new>

#include "earlymod/util/output.h"

namespace earlymod {

struct LoadEngine::Job {
    // Written and read by the coordinator only (queued covers running).
    enum class State : uint8_t { waiting, queued, done };
    uint32_t index = 0; // in jobs_
    Module* module = nullptr;
    Context::Step step;
    State state = State::waiting;
    bool required = false; // a target, or a hard dependency of one
    bool target = false;
    bool failed = false; // failed or skipped: what needs it is skipped
    Origin origin = Origin::wanted;
    uint32_t waiting_for = 0; // unfinished prerequisites
    Vec<uint32_t> users;      // every node waiting for this one
    Vec<uint32_t> hard_users; // the nodes that need it (modules.dep)
    // Written by the worker that runs it, read by the coordinator after
    // the job is handed back under the lock; running, start and worker are
    // set under the lock (the slow-load notes read them meanwhile).
    Outcome outcome = Outcome::loaded;
    Error error;
    uint64_t start = 0, end = 0;
    int worker = -1;
    bool running = false;
};

LoadEngine::LoadEngine(Context& ctx) : ctx_(ctx), resolver_(ctx.resolver()) {
    pthread_mutex_init(&lock_, nullptr);
    pthread_cond_init(&work_, nullptr);
    if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

LoadEngine::~LoadEngine() {
    pthread_mutex_lock(&lock_);
    stop_ = true;
    queue_head_ = queue_.size(); // what has not started never will
    pthread_cond_broadcast(&work_);
    pthread_mutex_unlock(&lock_);
    for (unsigned i = 0; i < n_threads_; ++i) pthread_join(threads_[i], nullptr);
    for (Job* j : jobs_) delete j;
    if (wake_[0] >= 0) close(wake_[0]);
    if (wake_[1] >= 0) close(wake_[1]);
    pthread_cond_destroy(&work_);
    pthread_mutex_destroy(&lock_);
}

void LoadEngine::start(unsigned workers) {
    if (workers < 1) workers = 1;
    if (workers > Context::max_jobs) workers = Context::max_jobs;
    while (n_threads_ < workers) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int rc = pthread_create(&threads_[n_threads_], &attr, worker_main, this);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        ++n_threads_;
    }
    if (n_threads_ == 0) log_message(log_warning, "could not start worker threads: loading one at a time");
}

void* LoadEngine::worker_main(void* arg) {
    LoadEngine* e = static_cast<LoadEngine*>(arg);
    pthread_mutex_lock(&e->lock_);
    int id = e->next_worker_++;
    for (;;) {
        while (e->queue_head_ == e->queue_.size() && !e->stop_) pthread_cond_wait(&e->work_, &e->lock_);
        if (e->queue_head_ == e->queue_.size()) break;
        // The job itself, not jobs_: the coordinator grows that meanwhile.
        Job& job = *e->take_next();
        job.running = true;
        job.start = monotonic_ns();
        job.worker = id;
        ++e->running_;
        pthread_mutex_unlock(&e->lock_);

        job.outcome = e->ctx_.run_step(job.step, &job.error);
        job.end = monotonic_ns();

        pthread_mutex_lock(&e->lock_);
        --e->running_;
        job.running = false;
        e->finished_.push(job.index);
        if (e->wake_[1] >= 0) {
            // Full pipe: the coordinator has wake-ups pending already.
            ssize_t w = write(e->wake_[1], "", 1);
            (void)w;
        }
    }
    pthread_mutex_unlock(&e->lock_);
    return nullptr;
}

// The ready job earliest in the plan (the order names were submitted in,
// each after what it needs), not the one that became ready first: a chain
// such as virtio_ring, virtio, virtio_pci, virtio_blk (what the root device
// waits for) is not sent behind every module that became ready meanwhile.
// Under lock_; the queue holds a few dozen jobs at most.
LoadEngine::Job* LoadEngine::take_next() {
    size_t best = queue_head_;
    for (size_t k = queue_head_ + 1; k < queue_.size(); ++k)
        if (queue_[k]->index < queue_[best]->index) best = k;
    Job* j = queue_[best];
    queue_[best] = queue_[queue_head_];
    queue_[queue_head_++] = j;
    return j;
}

LoadEngine::Job* LoadEngine::new_job(Module* m, Origin origin) {
    Job* j = new (std::nothrow) Job;
    if (!j) return nullptr;
    j->module = m;
    j->origin = origin;
    j->index = static_cast<uint32_t>(jobs_.size());
    uint32_t* slot = by_name_.insert(m->name, j->index);
    if (!slot || !jobs_.push(j)) {
        delete j;
        return nullptr;
    }
    ++pending_;
    return j;
}

// An outcome, once per module: reported, counted, and the run's result.
void LoadEngine::finish_outcome(uint32_t i, Outcome outcome, const Error& error, uint64_t start, uint64_t end,
                                int worker, const Module* cause) {
    Job& j = *jobs_[i];
    j.state = Job::State::done;
    j.outcome = outcome;
    j.failed = outcome == Outcome::failed || outcome == Outcome::skipped;
    if (pending_) --pending_;
    if (outcome == Outcome::loaded) {
        ++n_loaded_;
        ++n_loaded_by_[static_cast<int>(j.origin)];
    }
    if (j.failed && j.required) last_failure_ = error;
    ctx_.notify(j.module, outcome, error, j.target, start, end, j.required ? 1 : 0, worker, cause, j.origin);
}

void LoadEngine::release(uint32_t i) {
    Job& j = *jobs_[i];
    if (j.state != Job::State::waiting || j.waiting_for) return;
    j.state = Job::State::queued;
    pthread_mutex_lock(&lock_);
    queue_.push(&j);
    pthread_cond_signal(&work_);
    pthread_mutex_unlock(&lock_);
}

// i waits for from: a hard dependency (skip i if from fails), or order
// only. An edge to a node that has started already is moot.
void LoadEngine::add_edge(uint32_t from, uint32_t to, bool hard) {
    if (from == to) return;
    Job& f = *jobs_[from];
    Job& t = *jobs_[to];
    if (t.state != Job::State::waiting) return;
    if (f.state == Job::State::done) {
        if (hard && f.failed) skip(to, from);
        return;
    }
    if (!f.users.push(to) || (hard && !f.hard_users.push(to))) return;
    ++t.waiting_for;
}

// Skips i because cause failed, and with it whatever needs i.
void LoadEngine::skip(uint32_t i, uint32_t cause) {
    Vec<uint32_t> stack;
    stack.push(i);
    const Module* c = jobs_[cause]->module;
    while (!stack.empty()) {
        uint32_t k = stack.back();
        stack.pop();
        Job& j = *jobs_[k];
        if (j.state != Job::State::waiting) continue;
        Error why = Error::make(ECANCELED, "it needs %.*s, which failed", SV_ARG(c->name));
        finish_outcome(k, Outcome::skipped, why, 0, 0, -1, c);
        for (uint32_t u : j.hard_users) stack.push(u);
        release_users(j); // what waits for it only for order may go on
    }
}

// j has its outcome: what waited for it has one prerequisite less.
void LoadEngine::release_users(const Job& j) {
    for (uint32_t u : j.users) {
        Job& ju = *jobs_[u];
        if (ju.state != Job::State::waiting) continue;
        if (ju.waiting_for) --ju.waiting_for;
        release(u);
    }
}

void LoadEngine::complete(uint32_t i) {
    Job& j = *jobs_[i];
    finish_outcome(i, j.outcome, j.error, j.start, j.end, j.worker, nullptr);
    if (j.outcome == Outcome::failed)
        for (uint32_t u : j.hard_users) skip(u, i);
    release_users(j);
}

// A target decided without a load (present, blacklisted, refused).
void LoadEngine::decide_target(Module* m, Origin origin, Outcome outcome, const Error& error) {
    Job* j = new_job(m, origin);
    if (!j) return;
    j->target = j->required = true;
    finish_outcome(j->index, outcome, error, 0, 0, -1, nullptr);
}

// m's probe list joins the plan: new nodes, their edges, their steps.
void LoadEngine::add_target(Module* m, Origin origin) {
    scratch_.clear();
    if (Error pe = resolver_.probe_list(m, ctx_.options().ignore_commands, scratch_); !pe.ok()) {
        decide_target(m, origin, Outcome::failed, pe.at(Stage::resolve));
        return;
    }
    if (scratch_.empty() || scratch_.back() != m) scratch_.push(m); // the target, even with no list
    fresh_.clear();
    for (Module* mm : scratch_) {
        uint32_t idx;
        if (uint32_t* known = by_name_.find(mm->name)) {
            idx = *known;
        } else {
            Job* nj = new_job(mm, origin);
            if (!nj) continue;
            idx = nj->index;
            fresh_.push(idx);
        }
        Job& j = *jobs_[idx];
        if (j.state == Job::State::done) continue;
        if (mm == m)
            j.target = j.required = true;
        else if (resolver_.is_required(mm))
            j.required = true;
    }
    // The edges of the new nodes (kmod's probe list holds each one's
    // dependencies and softdeps, so both ends are in the plan now).
    for (uint32_t idx : fresh_) {
        Module* mm = jobs_[idx]->module;
        resolver_.load_deps(mm);
        for (uint32_t d = 0; d < mm->n_deps; ++d)
            if (uint32_t* j = by_name_.find(mm->deps[d]->name)) add_edge(*j, idx, true);
        if (!mm->softdeps_done) continue; // -i on a target: its softdeps are not in the plan
        for (uint32_t p = 0; p < mm->n_pre; ++p)
            if (uint32_t* j = by_name_.find(mm->pre[p]->name)) add_edge(*j, idx, false);
        for (uint32_t p = 0; p < mm->n_post; ++p)
            if (uint32_t* j = by_name_.find(mm->post[p]->name)) add_edge(idx, *j, false);
    }
    // Prepared here, where the resolver may be used; then started.
    for (uint32_t idx : fresh_) {
        Job& j = *jobs_[idx];
        if (j.state == Job::State::waiting) j.step = ctx_.prepare_step(j.module, {});
    }
    for (uint32_t idx : fresh_) release(idx);
}

bool LoadEngine::submit(std::string_view name, Origin origin, Error* why) {
    const Options& o = ctx_.options();
    // Without a usable index the configuration's aliases (and install
    // commands) still resolve; a name that finds nothing is then blamed on
    // the index.
    Vec<Module*> found;
    Error e = resolver_.lookup(name, found);
    if (!e.ok() || found.empty()) {
        if (why)
            *why = !ctx_.index_error().ok()
                       ? ctx_.index_error()
                       : Error::make(ENOENT, "Module %.*s not found", SV_ARG(name)).at(Stage::resolve);
        return false;
    }
    for (Module* m : found) {
        if (uint32_t* known = by_name_.find(m->name)) {
            // One outcome per module per run: decided, or on its way.
            Job& j = *jobs_[*known];
            if (j.state != Job::State::done) j.required = j.target = true;
            continue;
        }
        if (!o.ignore_status && ctx_.in_kernel(m)) {
            decide_target(m, origin, Outcome::present, Error());
        } else if (resolver_.is_blacklisted(m)) {
            log_message(log_debug, "%.*s (from %.*s) left out: blacklisted", SV_ARG(m->name), SV_ARG(name));
            decide_target(m, origin, Outcome::blacklisted, Error());
        } else {
            add_target(m, origin);
        }
    }
    if (memory_exhausted()) {
        if (why) *why = Error::make(ENOMEM, "out of memory resolving %.*s", SV_ARG(name));
        return false;
    }
    return true;
}

// Nothing running, nothing ready, yet modules wait: they wait for each
// other (softdeps that point at each other, a cycle in modules.dep).
// The earliest starts anyway, as kmod's visited mark would have it.
bool LoadEngine::break_loop() {
    for (uint32_t i = 0; i < jobs_.size(); ++i) {
        Job& j = *jobs_[i];
        if (j.state != Job::State::waiting) continue;
        log_message(log_debug, "dependency loop: starting %.*s before what it waits for", SV_ARG(j.module->name));
        j.waiting_for = 0;
        release(i);
        return true;
    }
    return false;
}

void LoadEngine::pump() {
    note_slow_loads(monotonic_ns());
    for (;;) {
        if (wake_[0] >= 0) {
            char buf[64];
            while (read(wake_[0], buf, sizeof buf) > 0) {}
        }
        Vec<uint32_t> done;
        pthread_mutex_lock(&lock_);
        for (uint32_t i : finished_) done.push(i);
        finished_.clear();
        bool busy = running_ > 0 || queue_head_ < queue_.size();
        pthread_mutex_unlock(&lock_);
        for (uint32_t i : done) complete(i);
        if (n_threads_ == 0) {
            // No workers: one job here, then look again.
            pthread_mutex_lock(&lock_);
            Job* next = queue_head_ < queue_.size() ? take_next() : nullptr;
            pthread_mutex_unlock(&lock_);
            if (next) {
                Job& j = *next;
                uint32_t i = j.index;
                j.worker = 0;
                j.start = monotonic_ns();
                j.outcome = ctx_.run_step(j.step, &j.error);
                j.end = monotonic_ns();
                complete(i);
                continue;
            }
        }
        if (!done.empty()) continue; // completions may have released more
        if (!busy && pending_ && break_loop()) continue;
        return;
    }
}

bool LoadEngine::idle() const {
    return pending_ == 0;
}

void LoadEngine::note_slow_loads(uint64_t now) {
    if (now < next_slow_check_) return;
    next_slow_check_ = now + slow_note_ns / 5;
    pthread_mutex_lock(&lock_);
    for (Job* j : jobs_) {
        if (!j->running || now - j->start < slow_note_ns) continue;
        // Once per slow_note_ns of its running time.
        uint64_t ran = now - j->start;
        uint64_t step = slow_note_ns / 5;
        if (ran % slow_note_ns >= step) continue;
        log_message(log_warning, "%.*s: still loading after %llu s (%s)", SV_ARG(j->module->name),
                    static_cast<unsigned long long>(ran / 1000000000ull),
                    j->step.kind == Context::Step::install ? "its install command" : "in the kernel");
    }
    pthread_mutex_unlock(&lock_);
}

bool LoadEngine::wait(uint64_t deadline_ns) {
    for (;;) {
        pump();
        if (idle()) return true;
        uint64_t now = monotonic_ns();
        if (deadline_ns && now >= deadline_ns) return false;
        uint64_t until = now + slow_note_ns / 5;
        if (deadline_ns && deadline_ns < until) until = deadline_ns;
        int ms = static_cast<int>((until - now + 999999) / 1000000);
        if (wake_[0] < 0 && ms > 10) ms = 10;
        struct pollfd p = {wake_[0], POLLIN, 0};
        poll(&p, 1, ms);
    }
}

} // namespace earlymod
