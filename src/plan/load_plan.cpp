#include "earlymod/load_plan.h"

#include <string.h>

namespace earlymod {

uint32_t LoadPlan::find(std::string_view name) const {
    uint32_t* i = by_name_.find(name);
    return i ? *i : UINT32_MAX;
}

uint32_t LoadPlan::node_for(Module* m) {
    bool inserted = false;
    uint32_t* slot = by_name_.insert(m->name, static_cast<uint32_t>(nodes_.size()), &inserted);
    if (!slot) return UINT32_MAX;
    if (inserted) {
        PlanNode n{};
        n.module = m;
        if (!nodes_.push(n)) return UINT32_MAX;
    }
    return *slot;
}

Error LoadPlan::add(Resolver& resolver, Module* target, bool ignore_commands) {
    scratch_.clear();
    if (Error e = resolver.probe_list(target, ignore_commands, scratch_); !e.ok()) return e;
    for (Module* m : scratch_) {
        uint32_t i = node_for(m);
        if (i == UINT32_MAX) continue;
        if (resolver.is_required(m)) nodes_[i].required = true;
        if (m == target) nodes_[i].required = nodes_[i].target = true;
    }
    // The target itself, even when its probe list was empty.
    uint32_t t = node_for(target);
    if (t != UINT32_MAX) nodes_[t].required = nodes_[t].target = true;
    return {};
}

void LoadPlan::finish(Resolver& resolver) {
    // Edges as (from, to, hard) triples, then per-node arrays.
    struct Edge {
        uint32_t from, to;
        bool hard;
    };
    Vec<Edge> edges;
    for (uint32_t i = 0; i < nodes_.size(); ++i) {
        Module* m = nodes_[i].module;
        resolver.load_deps(m);
        for (uint32_t d = 0; d < m->n_deps; ++d) {
            uint32_t j = find(m->deps[d]->name);
            if (j != UINT32_MAX && j != i) edges.push({j, i, true});
        }
        if (!m->softdeps_done) continue;  // -i on a target: its softdeps are not in the plan
        for (uint32_t p = 0; p < m->n_pre; ++p) {
            uint32_t j = find(m->pre[p]->name);
            if (j != UINT32_MAX && j != i) edges.push({j, i, false});
        }
        for (uint32_t p = 0; p < m->n_post; ++p) {
            uint32_t j = find(m->post[p]->name);
            if (j != UINT32_MAX && j != i) edges.push({i, j, false});
        }
    }
    auto alloc = [&](uint32_t n) {
        return n ? static_cast<uint32_t*>(arena_.alloc(n * sizeof(uint32_t), alignof(uint32_t))) : nullptr;
    };
    Vec<uint32_t> n_before, n_users, n_hard;
    n_before.resize(nodes_.size());
    n_users.resize(nodes_.size());
    n_hard.resize(nodes_.size());
    for (uint32_t i = 0; i < nodes_.size(); ++i) n_before[i] = n_users[i] = n_hard[i] = 0;
    for (const Edge& e : edges) {
        ++n_before[e.to];
        ++n_users[e.from];
        if (e.hard) ++n_hard[e.from];
    }
    for (uint32_t i = 0; i < nodes_.size(); ++i) {
        nodes_[i].before = alloc(n_before[i]);
        nodes_[i].users = alloc(n_users[i]);
        nodes_[i].hard_users = alloc(n_hard[i]);
        nodes_[i].n_before = nodes_[i].n_users = nodes_[i].n_hard_users = 0;
    }
    for (const Edge& e : edges) {
        PlanNode& to = nodes_[e.to];
        PlanNode& from = nodes_[e.from];
        if (to.before) to.before[to.n_before++] = e.from;
        if (from.users) from.users[from.n_users++] = e.to;
        if (e.hard && from.hard_users) from.hard_users[from.n_hard_users++] = e.to;
    }
}

} // namespace earlymod
