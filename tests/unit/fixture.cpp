#include "fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>

namespace fixture {

TempDir::TempDir() {
    char tmpl[] = "/tmp/earlymod-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    path_ = p ? p : "/tmp";
}

TempDir::~TempDir() {
    std::string cmd = "rm -rf '" + path_ + "'";
    if (path_.rfind("/tmp/earlymod-test-", 0) == 0) (void)!system(cmd.c_str());
}

void TempDir::mkdir(const std::string& rel) const {
    std::string cmd = "mkdir -p '" + path_ + "/" + rel + "'";
    (void)!system(cmd.c_str());
}

void TempDir::write(const std::string& rel, const std::string& content) const {
    size_t slash = rel.rfind('/');
    if (slash != std::string::npos) mkdir(rel.substr(0, slash));
    std::string full = path_ + "/" + rel;
    FILE* f = fopen(full.c_str(), "wb");
    if (!f) return;
    fwrite(content.data(), 1, content.size(), f);
    fclose(f);
}

std::string TempDir::read(const std::string& rel) const {
    std::string full = path_ + "/" + rel;
    FILE* f = fopen(full.c_str(), "rb");
    std::string s;
    if (!f) return s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    fclose(f);
    return s;
}

namespace {

struct TrieNode {
    std::string prefix;
    std::map<unsigned char, std::unique_ptr<TrieNode>> children;
    std::vector<std::pair<uint32_t, std::string>> values;
};

// depmod's insertion: split nodes so that every node's prefix is shared
// by all keys below it; values sorted by priority, a new one before equal
// priorities.
void insert(TrieNode* node, const std::string& key, const std::string& value, uint32_t prio) {
    size_t i = 0;
    for (;;) {
        size_t j = 0;
        for (; j < node->prefix.size(); ++j) {
            if (i + j >= key.size() || node->prefix[j] != key[i + j]) {
                auto split = std::make_unique<TrieNode>();
                split->prefix = node->prefix.substr(j + 1);
                split->children = std::move(node->children);
                split->values = std::move(node->values);
                unsigned char ch = static_cast<unsigned char>(node->prefix[j]);
                node->prefix = node->prefix.substr(0, j);
                node->children.clear();
                node->values.clear();
                node->children[ch] = std::move(split);
                break;
            }
        }
        i += j;
        if (i == key.size()) {
            auto it = node->values.begin();
            while (it != node->values.end() && it->first < prio) ++it;
            node->values.insert(it, {prio, value});
            return;
        }
        unsigned char ch = static_cast<unsigned char>(key[i]);
        auto found = node->children.find(ch);
        if (found == node->children.end()) {
            auto child = std::make_unique<TrieNode>();
            child->prefix = key.substr(i + 1);
            child->values.push_back({prio, value});
            node->children[ch] = std::move(child);
            return;
        }
        node = found->second.get();
        ++i;
    }
}

void put32(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

uint32_t write_node(const TrieNode* node, std::string& out) {
    std::map<unsigned char, uint32_t> child_refs;
    for (auto& [ch, child] : node->children) child_refs[ch] = write_node(child.get(), out);
    uint32_t offset = static_cast<uint32_t>(out.size());
    uint32_t flags = 0;
    if (!node->prefix.empty()) {
        flags |= 0x80000000u;
        out += node->prefix;
        out.push_back('\0');
    }
    if (!child_refs.empty()) {
        flags |= 0x20000000u;
        unsigned first = child_refs.begin()->first, last = child_refs.rbegin()->first;
        out.push_back(static_cast<char>(first));
        out.push_back(static_cast<char>(last));
        for (unsigned c = first; c <= last; ++c) {
            auto it = child_refs.find(static_cast<unsigned char>(c));
            put32(out, it == child_refs.end() ? 0 : it->second);
        }
    }
    if (!node->values.empty()) {
        flags |= 0x40000000u;
        put32(out, static_cast<uint32_t>(node->values.size()));
        for (auto& [prio, v] : node->values) {
            put32(out, prio);
            out += v;
            out.push_back('\0');
        }
    }
    return offset | flags;
}

} // namespace

std::string write_bin_index(const std::vector<IndexEntry>& entries) {
    TrieNode root;
    for (const IndexEntry& e : entries) insert(&root, e.key, e.value, e.priority);
    std::string out;
    put32(out, 0xB007F457u);
    put32(out, 0x00020001u);
    put32(out, 0);
    uint32_t ref = write_node(&root, out);
    std::string head;
    put32(head, ref);
    out.replace(8, 4, head);
    return out;
}

Captured capture(int (*fn)(int, char**), std::vector<std::string> args) {
    Captured c{};
    char out_tmpl[] = "/tmp/earlymod-out-XXXXXX";
    char err_tmpl[] = "/tmp/earlymod-err-XXXXXX";
    int out_fd = mkstemp(out_tmpl);
    int err_fd = mkstemp(err_tmpl);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    c.status = fn(static_cast<int>(args.size()), argv.data());
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    auto slurp = [](int fd) {
        std::string s;
        lseek(fd, 0, SEEK_SET);
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
        close(fd);
        return s;
    };
    c.out = slurp(out_fd);
    c.err = slurp(err_fd);
    unlink(out_tmpl);
    unlink(err_tmpl);
    return c;
}

} // namespace fixture
