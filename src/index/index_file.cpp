// Picks the usable form of one index: the .bin trie when present and
// sound, the text file otherwise, switching over if the trie turns out to
// be damaged halfway through a query.
#include <errno.h>
#include <stdio.h>

#include "earlymod/index.h"
#include "earlymod/output.h"

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
    text_host_ = arena.concat(dir_host, "/", name).data();
    shown_ = arena.concat(dir_shown, "/", name);
    if (!text_host_) text_host_ = "";
    opened_ = false;
}

// The files are opened on first use: a single lookup touches only the
// indexes it needs (most need modules.dep and modules.alias only).
void IndexFile::ensure_open() {
    if (opened_) return;
    opened_ = true;
    char bin_host[4200];
    snprintf(bin_host, sizeof bin_host, "%s.bin", text_host_);
    char bin_shown[4200];
    snprintf(bin_shown, sizeof bin_shown, "%.*s.bin", static_cast<int>(shown_.size()), shown_.data());
    Error err = bin_file_.open(bin_host, bin_shown);
    if (err.ok()) {
        err = bin_.open(bin_file_.bytes(), bin_file_.size(), bin_shown);
        if (err.ok()) {
            use_bin_ = true;
        } else {
            log_message(log_warning, "%s; using the text index instead", err.message());
            bin_file_ = MappedFile();
        }
    } else if (err.code() != ENOENT) {
        log_message(log_warning, "%s; using the text index instead", err.message());
    }
    // modules.builtin.alias has no text form; the others are parsed only
    // when the trie is missing or fails.
    text_pending_ = !use_bin_ && kind_ != IndexKind::builtin_alias && path_exists(text_host_);
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
    text_.load(kind_, text_file_.text(), shown_);
    text_loaded_ = true;
    return true;
}

void IndexFile::drop_bin() {
    use_bin_ = false;
    text_pending_ = kind_ != IndexKind::builtin_alias && path_exists(text_host_);
    log_message(log_warning, "%.*s.bin is damaged (offset out of range or a loop in the trie); %s",
                static_cast<int>(shown_.size()), shown_.data(),
                text_pending_ ? "using the text index instead" : "no text index to fall back on");
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
    if (use_bin_) {
        bin_.dump(prefix, out);
        if (!bin_.corrupt()) return;
        // Lines already written cannot be taken back; say so.
        drop_bin();
        return;
    }
    if (ensure_text()) text_.dump(prefix, out);
}

} // namespace earlymod
