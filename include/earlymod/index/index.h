// The module index files that depmod writes into /lib/modules/KVER.
//
// Five indexes matter for resolution:
//   modules.dep            module name -> "relpath: dep-relpath ..."
//   modules.alias          alias pattern -> module name (wildcards allowed)
//   modules.symbols        "symbol:NAME" -> module name
//   modules.builtin        names of modules built into the kernel
//   modules.builtin.alias  alias pattern -> builtin module name (optional)
//
// Each comes in two forms: kmod's binary trie (NAME.bin) and a text file
// (NAME). Like kmod, earlymod reads the .bin form when it is present; the
// text form is the fallback (initramfs images made by hand, or a damaged
// .bin). Both are mapped read-only and read in place; the text form is
// parsed once into lookup tables that point into the mapping.
//
// A .bin file is validated as it is read: every offset and length is
// bounds-checked, and child nodes must lie before their parent (depmod
// writes the trie in post-order), which rules out loops. A walk may read at
// most bin_walk_work_per_byte times the file's size, whatever the query, so
// that nodes shared between parents (a DAG, which no depmod writes) cannot
// make a walk exponential. A .bin file that fails is reported once, naming
// the file, and the text form takes over.
//
// An empty modules.builtin.bin or modules.builtin.alias.bin (0 bytes) is an
// empty index, as for kmod: depmod writes one when the kernel has no
// modules.builtin or modules.builtin.modinfo.
#pragma once

#include <stdint.h>

#include <string_view>

#include "earlymod/util/error.h"
#include "earlymod/util/files.h"
#include "earlymod/util/memory.h"

namespace earlymod {

class OutBuf;

enum class IndexKind { dep, alias, symbols, builtin, builtin_alias };

// Limits on a text index, far above any real one so that they never change
// a result. Debian's 6.1 kernel (4023 modules): modules.alias has 26223
// lines (the most), modules.symbols 14181, modules.dep 4023 with the
// longest line 1032 bytes (25 dependencies); modules.builtin.modinfo 1061
// records. Past max_index_lines lines (or modinfo records) the text index
// is refused with an error naming the file and the limit; a line longer
// than max_index_line_bytes is skipped with a warning naming the file, the
// line and the limit. A .bin index needs no such limit: it is read in
// place, and each walk has a work budget (bin_walk_work_per_byte).
constexpr size_t max_index_lines = 1000000;
constexpr size_t max_index_line_bytes = 65536;
// Work one walk of a .bin index (a search, a dump, a check) may do, per
// byte of the file: every byte a walk reads counts each time it is read.
// depmod writes a tree, and a walk reads each of its nodes once (a node and
// its child table and values: at most twice the file in all), or a few
// times over when the query itself holds '*' or '?' that follow the trie's
// own wildcards. A walk that needs more has met nodes shared between
// parents: it stops, and the file is treated as damaged. On Debian's 6.1
// and 6.12 trees, with every key of every index as a query (each alias
// also with its wildcards filled in), a search reads at most 0.13 times
// its file, a check() of the whole trie 1.03 times.
constexpr size_t bin_walk_work_per_byte = 8;
// Bad lines of one text index named one by one in the log; past this many,
// the rest are only counted ("N more bad lines skipped"), so that a damaged
// file cannot flood the kernel log at boot.
constexpr size_t max_reported_bad_lines = 10;

// One value found in an index, with depmod's priority (lower first).
struct IndexValue {
    std::string_view value;
    uint32_t priority;
};

// Reader for kmod's binary index format (see docs/index-format.md).
class BinIndex {
public:
    // data must stay mapped while the reader is used.
    Error open(const unsigned char* data, size_t size, std::string_view shown);
    // Exact key: the first (lowest priority) value.
    bool find(std::string_view key, std::string_view* value);
    // Wildcard search: appends every value whose pattern fnmatch()es key,
    // ordered as kmod orders them (by priority; ties: last found first).
    void search(std::string_view key, Vec<IndexValue>& out);
    // Every key/value as "prefix key value\n", in trie (byte) order.
    void dump(std::string_view prefix, OutBuf& out);
    // Walks the whole trie; false if any part of it is damaged.
    bool check();
    // Set once a read went out of bounds, broke the post-order rule or ran
    // out of work budget; results obtained since are incomplete.
    bool corrupt() const { return corrupt_; }
    // Work the last search(), dump() or check() did, in bytes read: at most
    // bin_walk_work_per_byte * (size + 1). For tests.
    size_t last_walk_work() const { return work_; }

private:
    struct Node;
    struct Subject;
    void start_walk();
    bool charge(size_t bytes);
    bool read_node(uint32_t ref, uint32_t parent_offset, Node* node);
    void search_all(const Node& node, size_t j, char* buf, size_t used, std::string_view subkey, Vec<IndexValue>& out,
                    int depth);
    void search_node(Node node, std::string_view key, Vec<IndexValue>& out);
    struct KeyBits {
        uint64_t w[4]; // a set of positions 0..255 in the query
    };
    void search_nfa(const Node& node, size_t j, KeyBits set, char* buf, size_t used, const Subject& sub, size_t entry,
                    Vec<IndexValue>& out, int depth);
    void add_values(const Node& node, Vec<IndexValue>& out);
    void dump_node(const Node& node, char* buf, size_t used, OutBuf* out, int depth);

    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
    uint32_t root_ = 0;
    bool corrupt_ = false;
    // Bytes the current walk has read, and the most it may read
    // (bin_walk_work_per_byte): a function of the file's size only.
    size_t work_ = 0;
    size_t budget_ = 0;
};

// Lookup tables over a text index, pointing into its mapping.
class TextIndex {
public:
    TextIndex() = default;
    TextIndex(const TextIndex&) = delete;
    TextIndex& operator=(const TextIndex&) = delete;

    // Parses the mapped text. Malformed lines are skipped with a warning
    // naming the file and line. An index over max_index_lines is an error
    // (E2BIG), and the index is left empty.
    Error load(IndexKind kind, std::string_view text, std::string_view shown);
    bool find(std::string_view key, std::string_view* value) const;
    // Appends every value whose pattern fnmatch()es key, in the order
    // BinIndex::search() gives for the same entries.
    void search(std::string_view key, Vec<IndexValue>& out) const;
    void dump(std::string_view prefix, OutBuf& out) const;
    // Steps the last search() took: patterns tried, and comparisons made
    // putting the matches in order (n log n in the number of matches).
    // For tests.
    size_t last_search_steps() const { return steps_; }
    // Steps load() took to keep the set of prefix lengths: one per
    // pattern, however many lengths there are. For tests.
    size_t load_steps() const { return load_steps_; }

private:
    Error load_builtin_modinfo(std::string_view text, std::string_view shown);
    void sort_keys() const;
    bool branches_at(std::string_view p, size_t i) const;
    unsigned times_found(std::string_view p, std::string_view q) const;
    void add_pattern(std::string_view key, std::string_view module, uint32_t priority);

    struct Entry {
        std::string_view key;   // module name, or alias pattern
        std::string_view value; // dep line, or module name
        uint32_t priority;
        uint32_t next; // next entry with the same literal prefix
    };
    IndexKind kind_ = IndexKind::dep;
    Arena arena_;
    Vec<Entry> entries_;
    // Exact keys (dep, builtin) -> entry.
    StrMap<uint32_t> by_key_;
    // Alias files: literal prefix of a pattern -> chain of entries.
    StrMap<uint64_t> chains_;
    // Which literal-prefix lengths occur, so a query probes only those;
    // the bitmap answers "seen already?" in one step (a list scan made a
    // crafted file of many lengths quadratic to load).
    Vec<uint16_t> prefix_lengths_;
    uint64_t length_seen_[(UINT16_MAX + 1) / 64] = {};
    size_t load_steps_ = 0;
    // Keys in byte order, built on first need (queries with wildcards).
    mutable Vec<uint32_t> sorted_;
    mutable bool sorted_ready_ = false;
    mutable size_t steps_ = 0;
};

// One index of a modules dir, in whichever form is usable.
class IndexFile {
public:
    IndexFile() = default;
    IndexFile(const IndexFile&) = delete;
    IndexFile& operator=(const IndexFile&) = delete;

    // dir_host: the modules dir on this machine; dir_shown: as printed.
    // The paths are kept in arena. A missing index is not an error here:
    // present() tells.
    void open(IndexKind kind, std::string_view dir_host, std::string_view dir_shown, Arena& arena);
    bool present();
    // Size in bytes of the form in use (0 when absent): a hint for sizing
    // tables.
    size_t size_hint() {
        ensure_open();
        return use_bin_ ? bin_file_.size() : 0;
    }
    // Why the .bin form could not be opened, when that was not "missing".
    const Error& open_error() const { return open_error_; }
    bool uses_bin() {
        ensure_open();
        return use_bin_;
    }
    std::string_view shown_name() const { return shown_; }

    bool find(std::string_view key, std::string_view* value);
    void search(std::string_view key, Vec<IndexValue>& out);
    void dump(std::string_view prefix, OutBuf& out);

private:
    void ensure_open();
    bool ensure_text();
    void drop_bin();

    IndexKind kind_ = IndexKind::dep;
    const char* text_host_ = ""; // NUL-terminated, in the caller's arena
    const char* bin_host_ = "";
    std::string_view shown_; // the text form's path, as shown
    std::string_view bin_shown_;
    MappedFile bin_file_;
    MappedFile text_file_;
    BinIndex bin_;
    TextIndex text_;
    bool opened_ = false;
    Error open_error_;
    bool use_bin_ = false;
    bool text_pending_ = false; // text exists, not parsed yet
    bool text_loaded_ = false;
};

const char* index_file_name(IndexKind kind);

} // namespace earlymod
