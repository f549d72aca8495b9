// The order in which kmod returns several values for one query: ascending
// priority, and among equal priorities the value found last comes first
// (kmod inserts each new value before the first one of equal or higher
// priority). Both index readers use this, so .bin and text agree.
#pragma once

#include "earlymod/index.h"

namespace earlymod {

inline void insert_by_priority(Vec<IndexValue>& out, IndexValue v) {
    size_t at = 0;
    while (at < out.size() && out[at].priority < v.priority) ++at;
    if (!out.push(v)) return;
    for (size_t k = out.size() - 1; k > at; --k) out[k] = out[k - 1];
    out[at] = v;
}

} // namespace earlymod
