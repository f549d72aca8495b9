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

#include "earlymod/index.h"
#include "earlymod/output.h"
#include "earlymod/text.h"
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
    std::string_view prefix;
    unsigned first = 1, last = 0;          // no children when first > last
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
    if ((root_ & offset_mask) >= size)
        return Error::make(EINVAL, "%.*s: root offset out of range", n, shown.data());
    return {};
}

// Reads the node that ref points to. Children must lie before their parent
// (post-order): that single rule makes every walk finite.
bool BinIndex::read_node(uint32_t ref, uint32_t parent_offset, Node* node) {
    uint32_t off = ref & offset_mask;
    if (off == 0) return false;
    if (off < 12 || off >= size_ || off >= parent_offset) {
        corrupt_ = true;
        return false;
    }
    *node = Node{};
    node->offset = off;
    size_t p = off;
    if (ref & flag_prefix) {
        const void* nul = memchr(data_ + p, 0, size_ - p);
        if (!nul) { corrupt_ = true; return false; }
        size_t len = static_cast<const unsigned char*>(nul) - (data_ + p);
        node->prefix = {reinterpret_cast<const char*>(data_ + p), len};
        p += len + 1;
    }
    if (ref & flag_childs) {
        if (p + 2 > size_) { corrupt_ = true; return false; }
        node->first = data_[p];
        node->last = data_[p + 1];
        p += 2;
        if (node->first > node->last) { corrupt_ = true; return false; }
        size_t count = node->last - node->first + 1;
        if (p + 4 * count > size_) { corrupt_ = true; return false; }
        node->children = data_ + p;
        p += 4 * count;
    }
    if (ref & flag_values) {
        if (p + 4 > size_) { corrupt_ = true; return false; }
        node->value_count = be32(data_ + p);
        p += 4;
        // Each record takes at least 5 bytes: cheap guard against huge counts.
        if (node->value_count > (size_ - p) / 5) { corrupt_ = true; return false; }
        node->values = data_ + p;
    }
    return true;
}

namespace {
// Walks a node's value records with bounds checks.
template <typename F>
bool for_each_value(const unsigned char* p, uint32_t count, const unsigned char* end, F&& f) {
    for (uint32_t i = 0; i < count; ++i) {
        if (p + 4 > end) return false;
        uint32_t prio = be32(p);
        p += 4;
        const void* nul = memchr(p, 0, end - p);
        if (!nul) return false;
        size_t len = static_cast<const unsigned char*>(nul) - p;
        f(std::string_view(reinterpret_cast<const char*>(p), len), prio);
        p += len + 1;
    }
    return true;
}
} // namespace

bool BinIndex::find(std::string_view key, std::string_view* value) {
    Node node;
    if (!read_node(root_, UINT32_MAX, &node)) return false;
    size_t i = 0;
    for (;;) {
        if (key.size() - i < node.prefix.size() || key.substr(i, node.prefix.size()) != node.prefix)
            return false;
        i += node.prefix.size();
        if (i == key.size()) {
            if (node.value_count == 0) return false;
            bool found = false;
            bool ok = for_each_value(node.values, 1, data_ + size_, [&](std::string_view v, uint32_t) {
                *value = v;
                found = true;
            });
            if (!ok) corrupt_ = true;
            return found;
        }
        unsigned ch = static_cast<unsigned char>(key[i]);
        if (ch < node.first || ch > node.last) return false;
        Node child;
        if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) return false;
        node = child;
        ++i;
    }
}

void BinIndex::add_values(const Node& node, Vec<IndexValue>& out) {
    bool ok = for_each_value(node.values, node.value_count, data_ + size_,
                             [&](std::string_view v, uint32_t prio) { insert_by_priority(out, {v, prio}); });
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
    size_t i = 0;
    for (;;) {
        for (size_t j = 0; j < node.prefix.size(); ++j) {
            char ch = node.prefix[j];
            if (ch == '*' || ch == '?' || ch == '[') {
                search_all(node, j, buf, 0, key.substr(i + j < key.size() ? i + j : key.size()), out, 0);
                return;
            }
            if (i + j >= key.size() || ch != key[i + j]) return;
        }
        i += node.prefix.size();
        for (char wild : {'*', '?', '['}) {
            unsigned ch = static_cast<unsigned char>(wild);
            if (ch < node.first || ch > node.last) continue;
            Node child;
            if (!read_node(be32(node.children + 4 * (ch - node.first)), node.offset, &child)) continue;
            buf[0] = wild;
            search_all(child, 0, buf, 1, key.substr(i), out, 0);
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
    Node root;
    if (!read_node(root_, UINT32_MAX, &root)) return;
    search_node(root, key, out);
}

void BinIndex::dump_node(const Node& node, char* buf, size_t used, OutBuf& out, int depth) {
    if (depth > max_depth || used + node.prefix.size() + 1 >= max_key) {
        corrupt_ = true;
        return;
    }
    memcpy(buf + used, node.prefix.data(), node.prefix.size());
    used += node.prefix.size();
    bool ok = for_each_value(node.values, node.value_count, data_ + size_, [&](std::string_view v, uint32_t) {
        out.put(std::string_view(buf, used)).put(' ').put(v).put('\n');
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
    Node root;
    if (!read_node(root_, UINT32_MAX, &root)) return;
    char buf[max_key];
    if (prefix.size() >= 64) return;
    memcpy(buf, prefix.data(), prefix.size());
    dump_node(root, buf, prefix.size(), out, 0);
}

} // namespace earlymod
