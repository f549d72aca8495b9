// kmod's binary index: a Patricia trie with big-endian u32 offsets.
//
// Header: magic 0xB007F457, version (major 2), root node reference.
// A node reference's high nibble holds flags, the low 28 bits the offset:
//   PREFIX  0x80000000  the node starts with a NUL-terminated prefix string
//   VALUES  0x40000000  it ends with u32 count, then {u32 priority, string}
//   CHILDS  0x20000000  u8 first, u8 last, u32 child[last - first + 1]
// An offset of 0 means "no node".
#include <errno.h>
#include <string.h>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"
#include "index_order.h"

namespace earlymod {

namespace {
constexpr uint32_t index_magic = 0xB007F457u;
constexpr uint32_t flag_prefix = 0x80000000u;
constexpr uint32_t flag_values = 0x40000000u;
constexpr uint32_t flag_childs = 0x20000000u;
constexpr uint32_t offset_mask = 0x0FFFFFFFu;
// Far beyond any real alias (a few hundred bytes); bounds recursion.
constexpr size_t max_key = 4096;
constexpr int max_depth = 2048;

uint32_t be32(const unsigned char* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
} // namespace

struct BinIndex::Node {
    uint32_t offset = 0;
    std::string_view prefix{"", 0}; // never a null pointer: it is memcpy'd
    unsigned first = 1, last = 0;   // no children when first > last
    const unsigned char* children = nullptr;
    uint32_t value_count = 0;
    const unsigned char* values = nullptr; // first {priority, string} record
};

Error BinIndex::open(const unsigned char* data, size_t size, std::string_view shown) {
    data_ = data;
    size_ = size;
    corrupt_ = false;
    int n = static_cast<int>(shown.size());
    if (size < 12) return Error::make(EINVAL, "%.*s: too short for an index", n, shown.data());
    if (be32(data) != index_magic) return Error::make(EINVAL, "%.*s: bad magic", n, shown.data());
    if (be32(data + 4) >> 16 != 2)
        return Error::make(EINVAL, "%.*s: unsupported index version %u", n, shown.data(), be32(data + 4) >> 16);
    root_ = be32(data + 8);
    // An empty index (depmod writes one when there is nothing to index) is
    // a flagless root node at the very end of the file: zero bytes long.
    uint32_t root_off = root_ & offset_mask;
    bool empty_node = (root_ & (flag_prefix | flag_values | flag_childs)) == 0;
    if (root_off < 12 || root_off > size || (root_off == size && !empty_node))
        return Error::make(EINVAL, "%.*s: root offset out of range", n, shown.data());
    return {};
}

void BinIndex::start_walk() {
    work_ = 0;
    budget_ = bin_walk_work_per_byte * (size_ + 1);
}

// Counts bytes a walk reads against its budget. A depmod trie is a tree:
// a walk reads each node once, or a few times when the query has
// wildcards of its own. Nodes shared between parents (a DAG, which only a
// crafted file has) can be reached along exponentially many paths, and
// kmod's walk never ends; here it stops, and the file counts as damaged.
bool BinIndex::charge(size_t bytes) {
    if (bytes > budget_ - work_) {
        corrupt_ = true;
        return false;
    }
    work_ += bytes;
    return true;
}

// Reads the node that ref points to. Children must lie before their parent
// (post-order): that rule makes every walk finite; the work budget keeps it
// short.
bool BinIndex::read_node(uint32_t ref, uint32_t parent_offset, Node* node) {
    uint32_t off = ref & offset_mask;
    if (off == 0 || corrupt_) return false;
    bool empty_node = (ref & (flag_prefix | flag_values | flag_childs)) == 0;
    if (off < 12 || off > size_ || (off == size_ && !empty_node) || off >= parent_offset) {
        corrupt_ = true;
        return false;
    }
    *node = Node{};
    node->offset = off;
    size_t p = off;
    if (ref & flag_prefix) {
        const void* nul = memchr(data_ + p, 0, size_ - p);
        if (!nul) {
            corrupt_ = true;
            return false;
        }
        size_t len = static_cast<const unsigned char*>(nul) - (data_ + p);
        node->prefix = {reinterpret_cast<const char*>(data_ + p), len};
        p += len + 1;
    }
    if (ref & flag_childs) {
        if (p + 2 > size_) {
            corrupt_ = true;
            return false;
        }
        node->first = data_[p];
        node->last = data_[p + 1];
        p += 2;
        if (node->first > node->last) {
            corrupt_ = true;
            return false;
        }
        size_t count = node->last - node->first + 1;
        if (p + 4 * count > size_) {
            corrupt_ = true;
            return false;
        }
        node->children = data_ + p;
        p += 4 * count;
    }
    if (ref & flag_values) {
        if (p + 4 > size_) {
            corrupt_ = true;
            return false;
        }
        node->value_count = be32(data_ + p);
        p += 4;
        // Each record takes at least 5 bytes: cheap guard against huge counts.
        if (node->value_count > (size_ - p) / 5) {
            corrupt_ = true;
            return false;
        }
        node->values = data_ + p;
    }
    // The node's bytes up to its values (add_values counts those), and one
    // more so that an empty node costs something too.
    return charge(p - off + 1);
}

namespace {
// Walks a node's value records with bounds checks; false if they run past
// the end. f returns false to stop early.
template <typename F>
bool for_each_value(const unsigned char* p, uint32_t count, const unsigned char* end, F&& f) {
    for (uint32_t i = 0; i < count; ++i) {
        if (p + 4 > end) return false;
        uint32_t prio = be32(p);
        p += 4;
        const void* nul = memchr(p, 0, end - p);
        if (!nul) return false;
        size_t len = static_cast<const unsigned char*>(nul) - p;
        if (!f(std::string_view(reinterpret_cast<const char*>(p), len), prio)) return true;
        p += len + 1;
    }
    return true;
}
} // namespace

// Matching under a wildcard, kmod's way, is "enumerate every pattern in
// the subtree and fnmatch() each": thousands of calls for one modalias.
// Instead the walk carries the set of key positions that the pattern text
// so far can have consumed (an NFA over the key, as a bitset) and prunes a
// subtree as soon as that set is empty. It visits subtrees in kmod's order,
// so results come out in the same order. Bracket expressions, escapes and
// non-ASCII bytes are left to the enumerate-and-fnmatch walk.
struct BinIndex::Subject {
    static constexpr size_t max_len = 255; // bits 0..255
    using Bits = KeyBits;
    std::string_view key;
    uint8_t slot[128]; // char -> 1 + index into masks, 0 if absent from key
    Bits masks[64];    // positions holding that char
    Bits valid;        // positions 0..n-1 (a character can be consumed)
    unsigned n;

    bool init(std::string_view k) {
        if (k.size() > max_len) return false;
        key = k;
        n = static_cast<unsigned>(k.size());
        memset(slot, 0, sizeof slot);
        valid = Bits{};
        unsigned count = 0;
        for (unsigned i = 0; i < n; ++i) {
            unsigned char c = static_cast<unsigned char>(k[i]);
            if (c >= 128) return false;
            if (!slot[c]) {
                if (count == 64) return false;
                masks[count] = Bits{};
                slot[c] = static_cast<uint8_t>(++count);
            }
            Bits& m = masks[slot[c] - 1];
            m.w[i >> 6] |= uint64_t(1) << (i & 63);
            valid.w[i >> 6] |= uint64_t(1) << (i & 63);
        }
        return true;
    }
    static bool empty(const Bits& b) { return !(b.w[0] | b.w[1] | b.w[2] | b.w[3]); }
    static Bits single(unsigned i) {
        Bits b{};
        b.w[i >> 6] = uint64_t(1) << (i & 63);
        return b;
    }
    static Bits shift1(Bits b) {
        Bits r;
        r.w[3] = (b.w[3] << 1) | (b.w[2] >> 63);
        r.w[2] = (b.w[2] << 1) | (b.w[1] >> 63);
        r.w[1] = (b.w[1] << 1) | (b.w[0] >> 63);
        r.w[0] = b.w[0] << 1;
        return r;
    }
    // The positions reachable after the pattern character c.
    Bits step(const Bits& b, unsigned char c) const {
        Bits r{};
        if (c == '*') {
            // Every position from the lowest in b up to n: a few word
            // operations, as a walk may step over '*' once per byte it reads.
            int k = 0;
            while (k < 4 && !b.w[k]) ++k;
            if (k == 4) return r;
            r.w[k] = ~uint64_t(0) << __builtin_ctzll(b.w[k]);
            for (int m = k + 1; m < 4; ++m) r.w[m] = ~uint64_t(0);
            // Clear the positions past n.
            unsigned top = n >> 6;
            if ((n & 63) != 63) r.w[top] &= (uint64_t(1) << ((n & 63) + 1)) - 1;
            for (unsigned m = top + 1; m < 4; ++m) r.w[m] = 0;
            return r;
        }
        const Bits* m = &valid;
        if (c != '?') {
            if (!slot[c]) return r;
            m = &masks[slot[c] - 1];
        }
        for (int k = 0; k < 4; ++k) r.w[k] = b.w[k] & m->w[k];
        return shift1(r);
    }
    bool accepts(const Bits& b) const { return (b.w[n >> 6] >> (n & 63)) & 1; }
    static bool needs_enumeration(unsigned char c) { return c == '[' || c == '\\' || c >= 128; }
};

void BinIndex::search_nfa(const Node& node, size_t j, KeyBits set, char* buf, size_t used, const Subject& sub,
                          size_t entry, Vec<IndexValue>& out, int depth) {
    if (depth > max_depth || used + (node.prefix.size() - j) + 1 >= max_key) {
        corrupt_ = true;
        return;
    }
    for (size_t k = j; k < node.prefix.size(); ++k) {
        unsigned char c = static_cast<unsigned char>(node.prefix[k]);
        if (Subject::needs_enumeration(c)) {
            search_all(node, k, buf, used, sub.key.substr(entry), out, depth);
            return;
        }
        buf[used++] = static_cast<char>(c);
        set = sub.step(set, c);
        if (Subject::empty(set)) return;
    }
    for (unsigned ch = node.first; ch <= node.last; ++ch) {
        Node child;
        if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) continue;
        buf[used] = static_cast<char>(ch);
        if (Subject::needs_enumeration(static_cast<unsigned char>(ch))) {
            search_all(child, 0, buf, used + 1, sub.key.substr(entry), out, depth + 1);
            continue;
        }
        Subject::Bits next = sub.step(set, static_cast<unsigned char>(ch));
        if (!Subject::empty(next)) search_nfa(child, 0, next, buf, used + 1, sub, entry, out, depth + 1);
    }
    if (node.value_count > 0 && sub.accepts(set)) add_values(node, out);
}

// Exact lookup, the hot path of every name lookup: walks the trie reading
// each node in place, comparing its prefix with the key as it goes.
bool BinIndex::find(std::string_view key, std::string_view* value) {
    const unsigned char* end = data_ + size_;
    uint32_t ref = root_;
    uint32_t parent = UINT32_MAX;
    size_t i = 0;
    for (;;) {
        uint32_t off = ref & offset_mask;
        if (off == 0) return false;
        bool empty_node = (ref & (flag_prefix | flag_values | flag_childs)) == 0;
        if (off < 12 || off > size_ || (off == size_ && !empty_node) || off >= parent) {
            corrupt_ = true;
            return false;
        }
        const unsigned char* p = data_ + off;
        if (ref & flag_prefix) {
            for (;;) {
                if (p >= end) {
                    corrupt_ = true;
                    return false;
                }
                unsigned char c = *p++;
                if (c == 0) break;
                if (i >= key.size() || c != static_cast<unsigned char>(key[i])) return false;
                ++i;
            }
        }
        unsigned first = 1, last = 0;
        const unsigned char* children = nullptr;
        if (ref & flag_childs) {
            if (p + 2 > end) {
                corrupt_ = true;
                return false;
            }
            first = p[0];
            last = p[1];
            if (first > last || p + 2 + 4 * (last - first + 1) > end) {
                corrupt_ = true;
                return false;
            }
            children = p + 2;
            p += 2 + 4 * (last - first + 1);
        }
        if (i == key.size()) {
            if (!(ref & flag_values)) return false;
            if (p + 8 > end || be32(p) == 0) {
                if (p + 4 > end) corrupt_ = true;
                return false;
            }
            p += 8; // the count, then the first value's priority
            const void* nul = memchr(p, 0, static_cast<size_t>(end - p));
            if (!nul) {
                corrupt_ = true;
                return false;
            }
            *value = {reinterpret_cast<const char*>(p),
                      static_cast<size_t>(static_cast<const unsigned char*>(nul) - p)};
            return true;
        }
        unsigned ch = static_cast<unsigned char>(key[i]);
        if (!children || ch < first || ch > last) return false;
        parent = off;
        ref = be32(children + 4 * (ch - first));
        ++i;
    }
}

// Appends the node's values in the order found; search() puts them in
// kmod's order once the walk is over.
void BinIndex::add_values(const Node& node, Vec<IndexValue>& out) {
    bool ok = for_each_value(node.values, node.value_count, data_ + size_, [&](std::string_view v, uint32_t prio) {
        return charge(4 + v.size() + 1) && out.push({v, prio});
    });
    if (!ok) corrupt_ = true;
}

// Below a wildcard: every key in this subtree is a candidate; buf holds the
// pattern text from the first wildcard on, subkey the rest of the query.
void BinIndex::search_all(const Node& node, size_t j, char* buf, size_t used, std::string_view subkey,
                          Vec<IndexValue>& out, int depth) {
    if (depth > max_depth || used + (node.prefix.size() - j) + 1 >= max_key) {
        corrupt_ = true;
        return;
    }
    memcpy(buf + used, node.prefix.data() + j, node.prefix.size() - j);
    used += node.prefix.size() - j;
    for (unsigned ch = node.first; ch <= node.last; ++ch) {
        Node child;
        if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) continue;
        buf[used] = static_cast<char>(ch);
        search_all(child, 0, buf, used + 1, subkey, out, depth + 1);
    }
    if (node.value_count > 0 && glob_match(std::string_view(buf, used), subkey)) add_values(node, out);
}

// Descends along the literal key, branching into every '*', '?' and '['
// child on the way, as kmod does.
void BinIndex::search_node(Node node, std::string_view key, Vec<IndexValue>& out) {
    char buf[max_key];
    Subject sub;
    bool nfa = sub.init(key);
    // Enters the subtree below a wildcard that starts at key position at.
    auto wild = [&](const Node& n, size_t j, size_t at, size_t used) {
        if (nfa && !Subject::needs_enumeration(static_cast<unsigned char>(buf[0]))) {
            Subject::Bits set =
                sub.step(Subject::single(static_cast<unsigned>(at)), static_cast<unsigned char>(buf[0]));
            if (!Subject::empty(set)) search_nfa(n, j, set, buf, used, sub, at, out, 0);
        } else {
            search_all(n, j, buf, used, key.substr(at), out, 0);
        }
    };
    size_t i = 0;
    for (;;) {
        for (size_t j = 0; j < node.prefix.size(); ++j) {
            char ch = node.prefix[j];
            if (ch == '*' || ch == '?' || ch == '[') {
                buf[0] = ch;
                wild(node, j + 1, i + j, 1);
                return;
            }
            if (i + j >= key.size() || ch != key[i + j]) return;
        }
        i += node.prefix.size();
        for (char w : {'*', '?', '['}) {
            unsigned ch = static_cast<unsigned char>(w);
            if (ch < node.first || ch > node.last) continue;
            Node child;
            if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) continue;
            buf[0] = w;
            wild(child, 0, i, 1);
        }
        if (i == key.size()) {
            add_values(node, out);
            return;
        }
        unsigned ch = static_cast<unsigned char>(key[i]);
        if (ch < node.first || ch > node.last) return;
        Node child;
        if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) return;
        node = child;
        ++i;
    }
}

void BinIndex::search(std::string_view key, Vec<IndexValue>& out) {
    start_walk();
    size_t before = out.size();
    Node root;
    if (read_node(root_, UINT32_MAX, &root)) search_node(root, key, out);
    size_t steps = 0;
    order_by_priority(out, before, &steps);
}

void BinIndex::dump_node(const Node& node, char* buf, size_t used, OutBuf* out, int depth) {
    if (depth > max_depth || used + node.prefix.size() + 1 >= max_key) {
        corrupt_ = true;
        return;
    }
    memcpy(buf + used, node.prefix.data(), node.prefix.size());
    used += node.prefix.size();
    bool ok = for_each_value(node.values, node.value_count, data_ + size_, [&](std::string_view v, uint32_t) {
        if (!charge(4 + v.size() + 1)) return false;
        if (out) out->put(std::string_view(buf, used)).put(' ').put(v).put('\n');
        return true;
    });
    if (!ok) corrupt_ = true;
    for (unsigned ch = node.first; ch <= node.last; ++ch) {
        Node child;
        if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) continue;
        buf[used] = static_cast<char>(ch);
        dump_node(child, buf, used + 1, out, depth + 1);
    }
}

void BinIndex::dump(std::string_view prefix, OutBuf& out) {
    start_walk();
    Node root;
    if (!read_node(root_, UINT32_MAX, &root)) return;
    char buf[max_key];
    if (prefix.size() >= 64) return;
    memcpy(buf, prefix.data(), prefix.size());
    dump_node(root, buf, prefix.size(), &out, 0);
}

bool BinIndex::check() {
    start_walk();
    Node root;
    if (!read_node(root_, UINT32_MAX, &root)) return !corrupt_;
    char buf[max_key];
    dump_node(root, buf, 0, nullptr, 0);
    return !corrupt_;
}

} // namespace earlymod
