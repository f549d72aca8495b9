// The order in which kmod returns several values for one query: ascending
// priority, and among equal priorities the value found last comes first
// (kmod inserts each new value before the first one of equal or higher
// priority). Both index readers use this, so .bin and text agree.
#pragma once

#include <stdint.h>

#include <algorithm>

#include "earlymod/index/index.h"

namespace earlymod {

// Puts out[from..], values in the order a walk found them, in kmod's order.
// kmod inserts each value into a sorted list, which takes n^2 / 2 steps for
// n values of ascending priority (a file can make n large); one sort of
// (priority, position) keys gives the same order in n log n. Comparisons
// made are added to *steps.
inline void order_by_priority(Vec<IndexValue>& out, size_t from, size_t* steps) {
    size_t n = out.size() - from;
    if (n < 2) return;
    Vec<uint64_t> keys;
    Vec<IndexValue> found;
    if (n <= UINT32_MAX && keys.reserve(n) && found.reserve(n)) {
        for (size_t i = 0; i < n; ++i) {
            keys.push((uint64_t(out[from + i].priority) << 32) | (UINT32_MAX - i));
            found.push(out[from + i]);
        }
        size_t compared = 0;
        std::sort(keys.begin(), keys.end(), [&](uint64_t a, uint64_t b) {
            ++compared;
            return a < b;
        });
        *steps += compared;
        for (size_t r = 0; r < n; ++r) out[from + r] = found[UINT32_MAX - static_cast<uint32_t>(keys[r])];
        return;
    }
    // Out of memory: kmod's insertion itself, in place.
    for (size_t i = from + 1; i < out.size(); ++i) {
        IndexValue v = out[i];
        size_t at = i;
        for (; at > from && out[at - 1].priority >= v.priority; --at) out[at] = out[at - 1];
        out[at] = v;
    }
}

} // namespace earlymod
