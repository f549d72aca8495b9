// Picks the usable form of one index: the .bin trie when present and
// sound, the text file otherwise, switching over if the trie turns out to
// be damaged halfway through a query.
#include <errno.h>
#include <stdio.h>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"

namespace earlymod {

const char* index_file_name(IndexKind kind) {
    switch (kind) {
    case IndexKind::dep: return "modules.dep";
    case IndexKind::alias: return "modules.alias";
    case IndexKind::symbols: return "modules.symbols";
    case IndexKind::builtin: return "modules.builtin";
    case IndexKind::builtin_alias: return "modules.builtin.alias";
    }
    return "";
}

void IndexFile::open(IndexKind kind, std::string_view dir_host, std::string_view dir_shown, Arena& arena) {
    kind_ = kind;
    const char* name = index_file_name(kind);
    // modules.builtin.alias.bin is made from modules.builtin.modinfo: that
    // is its text form.
    const char* text_name = kind == IndexKind::builtin_alias ? "modules.builtin.modinfo" : name;
    bin_host_ = arena.concat(dir_host, "/", name, ".bin").data();
    bin_shown_ = arena.concat(dir_shown, "/", name, ".bin");
    text_host_ = arena.concat(dir_host, "/", text_name).data();
    shown_ = arena.concat(dir_shown, "/", text_name);
    if (!bin_host_) bin_host_ = "";
    if (!text_host_) text_host_ = "";
    opened_ = false;
}

namespace {
// What depmod writes for an index with no keys: the header and a root node
// with no flags, zero bytes long, at the end of the file.
const unsigned char empty_index[12] = {0xB0, 0x07, 0xF4, 0x57, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0C};
} // namespace

// The files are opened on first use: a single lookup touches only the
// indexes it needs (most need modules.dep and modules.alias only).
void IndexFile::ensure_open() {
    if (opened_) return;
    opened_ = true;
    Error err = bin_file_.open(bin_host_, bin_shown_);
    if (err.ok()) {
        // depmod leaves modules.builtin.bin empty (0 bytes) when there is
        // no modules.builtin, modules.builtin.alias.bin when there is no
        // modules.builtin.modinfo: an empty index, for kmod too, not a
        // damaged one. The other indexes always get at least a header.
        bool builtin = kind_ == IndexKind::builtin || kind_ == IndexKind::builtin_alias;
        if (bin_file_.size() == 0 && builtin)
            err = bin_.open(empty_index, sizeof empty_index, bin_shown_);
        else
            err = bin_.open(bin_file_.bytes(), bin_file_.size(), bin_shown_);
        if (err.ok()) {
            use_bin_ = true;
        } else {
            log_message(log_warning, "%s; using the text index instead", err.message());
            bin_file_ = MappedFile();
        }
    } else if (err.code() != ENOENT) {
        open_error_ = err;
        log_message(log_warning, "%s; using the text index instead", err.message());
    }
    // The text form is parsed only when the trie is missing or fails.
    text_pending_ = !use_bin_ && path_exists(text_host_);
}

bool IndexFile::present() {
    ensure_open();
    return use_bin_ || text_loaded_ || text_pending_;
}

bool IndexFile::ensure_text() {
    if (text_loaded_) return true;
    if (!text_pending_) return false;
    text_pending_ = false;
    Error err = text_file_.open(text_host_, shown_);
    if (!err.ok()) {
        log_message(log_warning, "%s", err.message());
        return false;
    }
    err = text_.load(kind_, text_file_.text(), shown_);
    if (!err.ok()) {
        log_message(log_err, "%s", err.message());
        text_file_ = MappedFile();
        return false;
    }
    text_loaded_ = true;
    return true;
}

void IndexFile::drop_bin() {
    use_bin_ = false;
    text_pending_ = !text_loaded_ && path_exists(text_host_);
    log_message(log_warning, "%.*s is damaged (offset out of range, a loop, or nodes shared between parents); %s",
                SV_ARG(bin_shown_),
                text_pending_ || text_loaded_ ? "using the text index instead" : "no text index to fall back on");
}

bool IndexFile::find(std::string_view key, std::string_view* value) {
    ensure_open();
    if (use_bin_) {
        bool found = bin_.find(key, value);
        if (!bin_.corrupt()) return found;
        drop_bin();
    }
    return ensure_text() && text_.find(key, value);
}

void IndexFile::search(std::string_view key, Vec<IndexValue>& out) {
    ensure_open();
    if (use_bin_) {
        size_t before = out.size();
        bin_.search(key, out);
        if (!bin_.corrupt()) return;
        out.truncate(before);
        drop_bin();
    }
    if (ensure_text()) text_.search(key, out);
}

void IndexFile::dump(std::string_view prefix, OutBuf& out) {
    ensure_open();
    // Lines once written cannot be taken back: check the whole trie first
    // (only -c dumps, so the extra walk is cheap enough).
    if (use_bin_ && !bin_.check()) drop_bin();
    if (use_bin_) {
        bin_.dump(prefix, out);
        return;
    }
    if (ensure_text()) text_.dump(prefix, out);
}

} // namespace earlymod
