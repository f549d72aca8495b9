// A load plan: the modules for a set of wanted names as a graph, so that
// independent modules can load at the same time.
//
// Nodes are kernel modules (one per module name, however many names or
// aliases lead to it). Edges say "before":
//   - a hard dependency (modules.dep) before the module that needs it: if
//     it fails, the module that needs it is skipped;
//   - a pre-softdep before its module, and a module before its
//     post-softdeps: order only (kmod ignores softdep failures).
// The nodes are those of kmod's probe lists for the targets, so a plan
// run one node at a time in node order is what modprobe would do.
// Loops (softdeps that point at each other, or a cycle in modules.dep)
// are broken when the plan is run: if nothing can start, the earliest
// waiting node starts anyway.
#pragma once

#include <stdint.h>

#include <string_view>

#include "earlymod/memory.h"
#include "earlymod/resolver.h"

namespace earlymod {

struct PlanNode {
    Module* module;          // the object first met (its options apply)
    bool required;           // a target, or a hard dependency of one
    bool target;
    uint32_t* before;        // nodes that must finish first
    uint32_t n_before;
    uint32_t* hard_users;    // nodes to skip if this one fails
    uint32_t n_hard_users;
    uint32_t* users;         // every node waiting for this one
    uint32_t n_users;
};

class LoadPlan {
public:
    // Adds target's probe list (ignore_commands as modprobe -i). When the
    // probe list is refused (Resolver::probe_list), nothing is added.
    Error add(Resolver& resolver, Module* target, bool ignore_commands);
    // Computes the edges once every target is in.
    void finish(Resolver& resolver);

    Vec<PlanNode>& nodes() { return nodes_; }
    // The node of a module name, or UINT32_MAX.
    uint32_t find(std::string_view name) const;

private:
    uint32_t node_for(Module* m);

    Arena arena_;
    Vec<PlanNode> nodes_;
    StrMap<uint32_t> by_name_;
    Vec<Module*> scratch_;
};

} // namespace earlymod
