// Text forms of the indexes, as depmod writes them:
//   modules.dep       "kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko"
//   modules.alias     "alias pci:v00008086d*sv*sd*bc*sc*i* e1000e"
//   modules.symbols   "alias symbol:jbd2_journal_start jbd2"
//   modules.builtin   "kernel/fs/ext4/ext4.ko"
// Priorities mirror what depmod stores in the .bin form: the position of
// the module in depmod's module list, which is the order of the file.
#include <errno.h>
#include <string.h>

#include <algorithm>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"
#include "index_order.h"

namespace earlymod {

namespace {

// The bad lines of one file: the first max_reported_bad_lines are named one
// by one, the rest only counted. A file of garbage must not flood the
// kernel log of a machine that is booting.
class BadLines {
public:
    explicit BadLines(std::string_view shown) : shown_(shown) {}
    ~BadLines() {
        if (count_ > max_reported_bad_lines)
            log_message(log_warning, "%.*s: %zu more bad lines skipped", SV_ARG(shown_),
                        count_ - max_reported_bad_lines);
    }
    BadLines(const BadLines&) = delete;
    BadLines& operator=(const BadLines&) = delete;

    // Whether this bad line is one to name.
    bool report() { return ++count_ <= max_reported_bad_lines; }

    void skip(size_t lineno, const char* what) {
        if (report()) log_message(log_warning, "%.*s:%zu: %s, line skipped", SV_ARG(shown_), lineno, what);
    }

private:
    std::string_view shown_;
    size_t count_ = 0;
};

Error too_many(std::string_view shown, const char* what) {
    return Error::make(E2BIG, "%.*s: more than %zu %s, the limit for a text index: index not used", SV_ARG(shown),
                       max_index_lines, what);
}

// The literal part of a pattern, before its first wildcard.
size_t literal_prefix(std::string_view pattern) {
    size_t n = pattern.find_first_of("*?[");
    return n == std::string_view::npos ? pattern.size() : n;
}

} // namespace

// modules.builtin.modinfo: "module.key=value" records, each ended by a NUL.
// The aliases of builtin modules are the records with the key "alias"; depmod
// gives them all priority 0.
Error TextIndex::load_builtin_modinfo(std::string_view text, std::string_view shown) {
    if (more_items_than(text, '\0', max_index_lines)) return too_many(shown, "records");
    size_t record = 0;
    BadLines bad(shown);
    while (!text.empty()) {
        size_t end = text.find('\0');
        std::string_view rec = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++record;
        size_t dot = rec.find('.');
        size_t eq = rec.find('=');
        if (dot == std::string_view::npos || eq == std::string_view::npos || dot == 0 || eq < dot) continue;
        if (rec.substr(dot + 1, eq - dot - 1) != "alias") continue;
        std::string_view module = rec.substr(0, dot);
        std::string_view pattern = rec.substr(eq + 1);
        if (pattern.empty()) continue;
        char buf[4096];
        std::string_view norm;
        if (pattern.size() >= sizeof buf || !normalize_alias(pattern, buf, sizeof buf, &norm)) {
            if (bad.report())
                log_message(log_warning, "%.*s: record %zu: bad alias (unmatched bracket or too long), skipped",
                            SV_ARG(shown), record);
            continue;
        }
        add_pattern(norm == pattern ? pattern : arena_.dup(norm), module, 0);
    }
    return {};
}

void TextIndex::add_pattern(std::string_view key, std::string_view module, uint32_t priority) {
    Entry e{};
    e.key = key;
    e.value = module;
    e.priority = priority;
    e.next = UINT32_MAX;
    size_t lit = literal_prefix(e.key);
    uint32_t idx = static_cast<uint32_t>(entries_.size());
    bool inserted = false;
    uint64_t* chain = chains_.insert(e.key.substr(0, lit), (uint64_t(idx) << 32) | idx, &inserted);
    if (!chain || !entries_.push(e)) return;
    if (!inserted) {
        entries_[static_cast<uint32_t>(*chain)].next = idx;
        *chain = (*chain & 0xFFFFFFFF00000000ull) | idx;
    }
    ++load_steps_;
    if (lit > UINT16_MAX) return;
    uint64_t bit = uint64_t{1} << (lit % 64);
    if (length_seen_[lit / 64] & bit) return;
    length_seen_[lit / 64] |= bit;
    prefix_lengths_.push(static_cast<uint16_t>(lit));
}

Error TextIndex::load(IndexKind kind, std::string_view text, std::string_view shown) {
    kind_ = kind;
    if (kind == IndexKind::builtin_alias) return load_builtin_modinfo(text, shown);
    if (more_items_than(text, '\n', max_index_lines)) return too_many(shown, "lines");
    bool has_nul = memchr(text.data(), 0, text.size()) != nullptr;
    StrMap<uint32_t> module_order; // alias files: module -> priority
    size_t lineno = 0;
    BadLines bad(shown);
    std::string_view line;
    while (next_line(text, &line)) {
        ++lineno;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        if (line.size() > max_index_line_bytes) {
            if (bad.report())
                log_message(log_warning, "%.*s:%zu: line longer than %zu bytes, the limit; line skipped", SV_ARG(shown),
                            lineno, max_index_line_bytes);
            continue;
        }
        if (has_nul && memchr(line.data(), 0, line.size())) {
            bad.skip(lineno, "NUL byte in line");
            continue;
        }
        Entry e{};
        char buf[4096];
        if (kind == IndexKind::dep || kind == IndexKind::builtin) {
            std::string_view path = line;
            if (kind == IndexKind::dep) {
                size_t colon = line.find(':');
                if (colon == std::string_view::npos || colon == 0) {
                    bad.skip(lineno, "no ':' after the module path");
                    continue;
                }
                path = line.substr(0, colon);
            }
            std::string_view base = path_basename(path);
            if (base.empty() || base.size() >= sizeof buf) {
                bad.skip(lineno, "bad module path");
                continue;
            }
            std::string_view name = normalize_modname(base, buf, sizeof buf);
            // The key can point into the mapping unless '-' was rewritten.
            e.key = name == base.substr(0, name.size()) ? base.substr(0, name.size()) : arena_.dup(name);
            e.value = kind == IndexKind::dep ? line : std::string_view{};
            bool inserted = false;
            uint32_t* slot = by_key_.insert(e.key, static_cast<uint32_t>(entries_.size()), &inserted);
            if (!slot || !inserted) continue; // first entry wins, as in the .bin
            entries_.push(e);
            continue;
        }
        // alias, symbols: "alias PATTERN MODULE"
        std::string_view rest = line;
        std::string_view word = next_token(rest, " \t");
        std::string_view pattern = next_token(rest, " \t");
        std::string_view module = next_token(rest, " \t");
        if (word != "alias" || module.empty() || !next_token(rest, " \t").empty()) {
            bad.skip(lineno, "expected 'alias PATTERN MODULE'");
            continue;
        }
        std::string_view norm;
        if (pattern.size() >= sizeof buf || module.size() >= sizeof buf) {
            bad.skip(lineno, "alias or module name longer than 4095 bytes");
            continue;
        }
        if (!normalize_alias(pattern, buf, sizeof buf, &norm)) {
            bad.skip(lineno, "unmatched bracket in alias");
            continue;
        }
        uint32_t* prio = module_order.insert(module, static_cast<uint32_t>(module_order.size()));
        if (!prio) continue;
        add_pattern(norm == pattern ? pattern : arena_.dup(norm), module, *prio);
    }
    return {};
}

bool TextIndex::find(std::string_view key, std::string_view* value) const {
    uint32_t* idx = by_key_.find(key);
    if (!idx) return false;
    *value = entries_[*idx].value;
    return true;
}

void TextIndex::sort_keys() const {
    if (sorted_ready_) return;
    sorted_ready_ = true;
    if (!sorted_.reserve(entries_.size())) return;
    for (uint32_t i = 0; i < entries_.size(); ++i) sorted_.push(i);
    std::sort(sorted_.begin(), sorted_.end(), [&](uint32_t a, uint32_t b) {
        if (entries_[a].key != entries_[b].key) return entries_[a].key < entries_[b].key;
        return a < b;
    });
}

// Whether depmod's trie has a node boundary at depth i on the way to key p:
// the keys that share p's first i bytes do not all continue with p[i].
bool TextIndex::branches_at(std::string_view p, size_t i) const {
    // depmod's root node never has a prefix: every key's first byte
    // selects one of the root's children.
    if (i == 0) return true;
    sort_keys();
    std::string_view prefix = p.substr(0, i);
    auto key_of = [&](uint32_t k) { return entries_[k].key; };
    const Vec<uint32_t>& sorted = sorted_;
    const uint32_t* lo = std::lower_bound(sorted.begin(), sorted.end(), prefix,
                                          [&](uint32_t k, std::string_view v) { return key_of(k) < v; });
    const uint32_t* hi = std::upper_bound(lo, sorted.end(), prefix, [&](std::string_view v, uint32_t k) {
        std::string_view kk = key_of(k);
        return v < kk.substr(0, v.size());
    });
    if (hi - lo < 1) return false;
    std::string_view first = key_of(*lo), last = key_of(hi[-1]);
    if (first.size() == i) return last.size() > i;
    return first[i] != last[i];
}

// How many times kmod's walk of the .bin trie reaches pattern p for the
// query q. Once at most, unless q itself holds wildcard characters: then
// the walk can both follow the query's '?' or '*' literally and enter the
// wildcard branch, and kmod returns the match once per way (earlymod's .bin
// reader does the same; this gives the text reader the same answer).
unsigned TextIndex::times_found(std::string_view p, std::string_view q) const {
    if (q.find_first_of("*?[") == std::string_view::npos) {
        // The walk compares the literal prefix byte for byte (a backslash
        // there is no escape) and fnmatch()es from the first wildcard on.
        size_t lit = literal_prefix(p);
        if (lit > q.size() || p.substr(0, lit) != q.substr(0, lit)) return 0;
        return glob_match(p.substr(lit), q.substr(lit)) ? 1 : 0;
    }
    unsigned count = 0;
    for (size_t i = 0;; ++i) {
        if (i == p.size()) {
            if (i == q.size()) ++count; // the literal walk ends on p
            break;
        }
        char c = p[i];
        if (c == '*' || c == '?' || c == '[') {
            if (glob_match(p.substr(i), q.substr(i < q.size() ? i : q.size()))) ++count;
            // Inside a node's prefix the walk stops at a wildcard; at a
            // node boundary it also follows the query literally.
            if (!branches_at(p, i)) break;
        }
        if (i >= q.size() || q[i] != c) break;
    }
    return count;
}

void TextIndex::search(std::string_view key, Vec<IndexValue>& out) const {
    steps_ = 0;
    if (kind_ == IndexKind::dep || kind_ == IndexKind::builtin) {
        std::string_view v;
        if (find(key, &v)) out.push({v, 0});
        return;
    }
    // Every entry whose pattern matches, in the order found, with the
    // number of times kmod's walk of the .bin reaches the pattern's node.
    // Entries of one pattern share a literal prefix, hence one chain.
    struct Hit {
        uint32_t entry;
        uint32_t times;
        uint32_t node; // the first hit of the same pattern
    };
    Vec<Hit> hits;
    bool plain = key.find_first_of("*?[") == std::string_view::npos;
    for (uint16_t len : prefix_lengths_) {
        if (len > key.size()) continue;
        uint64_t* chain = chains_.find(key.substr(0, len));
        for (uint32_t k = chain ? static_cast<uint32_t>(*chain >> 32) : UINT32_MAX; k != UINT32_MAX;
             k = entries_[k].next) {
            ++steps_;
            const Entry& e = entries_[k];
            unsigned times = e.key.size() == len && plain ? (e.key == key ? 1 : 0) : times_found(e.key, key);
            if (times && !hits.push({k, times, 0})) return;
        }
    }
    if (hits.empty()) return;
    // One trie node holds all the values of a pattern: group the hits by
    // pattern, each group where its first hit was found.
    Vec<uint32_t> order;
    if (!order.reserve(hits.size())) return;
    for (uint32_t i = 0; i < hits.size(); ++i) order.push(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        ++steps_;
        std::string_view x = entries_[hits[a].entry].key, y = entries_[hits[b].entry].key;
        return x != y ? x < y : a < b;
    });
    for (size_t i = 0; i < order.size(); ++i) {
        bool same = i > 0 && entries_[hits[order[i]].entry].key == entries_[hits[order[i - 1]].entry].key;
        hits[order[i]].node = same ? hits[order[i - 1]].node : order[i];
    }
    // The nodes in the order the walk reaches them, and in each node its
    // values as depmod stores them: by priority, ties last added first.
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        ++steps_;
        const Hit& x = hits[a];
        const Hit& y = hits[b];
        if (x.node != y.node) return x.node < y.node;
        uint32_t px = entries_[x.entry].priority, py = entries_[y.entry].priority;
        return px != py ? px < py : x.entry > y.entry;
    });
    // Each node's values, once per time the walk reaches it; then kmod's
    // order (index_order.h).
    size_t before = out.size();
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j < order.size() && hits[order[j]].node == hits[order[i]].node) ++j;
        for (uint32_t t = 0; t < hits[order[i]].times; ++t)
            for (size_t m = i; m < j; ++m) {
                const Entry& e = entries_[hits[order[m]].entry];
                if (!out.push({e.value, e.priority})) return;
            }
        i = j;
    }
    order_by_priority(out, before, &steps_);
}

void TextIndex::dump(std::string_view prefix, OutBuf& out) const {
    Vec<uint32_t> order;
    if (!order.reserve(entries_.size())) return;
    for (uint32_t i = 0; i < entries_.size(); ++i) order.push(i);
    // Trie order: keys byte by byte, then priority.
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const Entry& x = entries_[a];
        const Entry& y = entries_[b];
        if (x.key != y.key) return x.key < y.key;
        if (x.priority != y.priority) return x.priority < y.priority;
        return a < b;
    });
    for (uint32_t i : order) out.put(prefix).put(entries_[i].key).put(' ').put(entries_[i].value).put('\n');
}

} // namespace earlymod
