// A reference model of kmod's binary index, independent of earlymod's
// reader: the trie as depmod builds it (index_insert), its bytes as depmod
// writes them (index_write__node), and the wildcard search as libkmod does
// it (index_searchwild__node/__all, glibc fnmatch on every candidate).
// The alias target builds one from the text it fed TextIndex and checks
// that TextIndex, BinIndex (on these bytes) and this model agree.
#pragma once

#include <stdint.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_common.h"

namespace fuzz {

class RefTrie {
public:
    struct Value {
        std::string value;
        uint32_t priority;
    };

    RefTrie() { nodes_.emplace_back(); }

    // depmod's index_insert. depmod only takes 7-bit keys and values
    // without NUL: callers check is_depmod_string() first.
    void insert(std::string_view key, std::string_view value, uint32_t priority) {
        size_t n = 0;
        size_t i = 0;
        for (;;) {
            std::string& prefix = nodes_[n].prefix;
            size_t j = 0;
            for (; j < prefix.size(); ++j) {
                unsigned char ch = static_cast<unsigned char>(prefix[j]);
                if (i + j >= key.size() || static_cast<unsigned char>(key[i + j]) != ch) {
                    // Split: a new child takes the rest of this node.
                    Node tail = std::move(nodes_[n]);
                    std::string rest = tail.prefix.substr(j + 1);
                    std::string head = tail.prefix.substr(0, j);
                    tail.prefix = rest;
                    nodes_.push_back(std::move(tail));
                    Node& parent = nodes_[n];
                    parent = Node{};
                    parent.prefix = head;
                    parent.children[ch] = nodes_.size() - 1;
                    break;
                }
            }
            i += j;
            if (i == key.size()) {
                add_value(nodes_[n].values, value, priority);
                return;
            }
            unsigned char ch = static_cast<unsigned char>(key[i]);
            auto it = nodes_[n].children.find(ch);
            if (it == nodes_[n].children.end()) {
                Node child;
                child.prefix = std::string(key.substr(i + 1));
                add_value(child.values, value, priority);
                nodes_.push_back(std::move(child));
                nodes_[n].children[ch] = nodes_.size() - 1;
                return;
            }
            n = it->second;
            ++i;
        }
    }

    // The file depmod writes: header, then the nodes in post-order.
    std::string write() const {
        std::string out;
        put32(out, 0xB007F457u);
        put32(out, 0x00020001u);
        put32(out, 0);
        uint32_t root = write_node(0, out);
        std::string hdr;
        put32(hdr, root);
        out.replace(8, 4, hdr);
        return out;
    }

    // libkmod's index_searchwild(): the values, in its order.
    std::vector<Value> search(std::string_view key) const {
        std::vector<Value> out;
        std::string buf;
        size_t n = 0;
        size_t i = 0;
        for (;;) {
            const Node& node = nodes_[n];
            for (size_t j = 0; j < node.prefix.size(); ++j) {
                char ch = node.prefix[j];
                if (ch == '*' || ch == '?' || ch == '[') {
                    search_all(n, j, buf, key.substr(i + j < key.size() ? i + j : key.size()), out);
                    return out;
                }
                if (i + j >= key.size() || key[i + j] != ch) return out;
            }
            i += node.prefix.size();
            for (char w : {'*', '?', '['}) {
                auto it = node.children.find(static_cast<unsigned char>(w));
                if (it == node.children.end()) continue;
                buf.push_back(w);
                search_all(it->second, 0, buf, key.substr(i), out);
                buf.pop_back();
            }
            if (i == key.size()) {
                for (const Value& v : node.values) add_value(out, v.value, v.priority);
                return out;
            }
            auto it = node.children.find(static_cast<unsigned char>(key[i]));
            if (it == node.children.end()) return out;
            n = it->second;
            ++i;
        }
    }

    static bool is_depmod_string(std::string_view s) {
        for (unsigned char c : s)
            if (c == 0 || c >= 128) return false;
        return true;
    }

private:
    struct Node {
        std::string prefix;
        std::map<unsigned char, size_t> children;
        std::vector<Value> values;
    };

    // Before the first value of equal or higher priority (later values of
    // one priority come first), as both depmod and libkmod insert.
    static void add_value(std::vector<Value>& values, std::string_view value, uint32_t priority) {
        size_t at = 0;
        while (at < values.size() && values[at].priority < priority) ++at;
        values.insert(values.begin() + static_cast<long>(at), Value{std::string(value), priority});
    }

    static void put32(std::string& out, uint32_t v) {
        out.push_back(static_cast<char>(v >> 24));
        out.push_back(static_cast<char>(v >> 16));
        out.push_back(static_cast<char>(v >> 8));
        out.push_back(static_cast<char>(v));
    }

    uint32_t write_node(size_t n, std::string& out) const {
        const Node& node = nodes_[n];
        std::vector<uint32_t> child_refs;
        unsigned first = 0, last = 0;
        if (!node.children.empty()) {
            first = node.children.begin()->first;
            last = node.children.rbegin()->first;
            child_refs.assign(last - first + 1, 0);
            for (const auto& [ch, c] : node.children) child_refs[ch - first] = write_node(c, out);
        }
        uint32_t ref = static_cast<uint32_t>(out.size());
        if (!node.prefix.empty()) {
            out += node.prefix;
            out.push_back('\0');
            ref |= 0x80000000u;
        }
        if (!child_refs.empty()) {
            out.push_back(static_cast<char>(first));
            out.push_back(static_cast<char>(last));
            for (uint32_t r : child_refs) put32(out, r);
            ref |= 0x20000000u;
        }
        if (!node.values.empty()) {
            put32(out, static_cast<uint32_t>(node.values.size()));
            for (const Value& v : node.values) {
                put32(out, v.priority);
                out += v.value;
                out.push_back('\0');
            }
            ref |= 0x40000000u;
        }
        return ref;
    }

    // libkmod's index_searchwild__all: every pattern below, fnmatch()ed.
    void search_all(size_t n, size_t j, std::string& buf, std::string_view subkey, std::vector<Value>& out) const {
        const Node& node = nodes_[n];
        size_t pushed = node.prefix.size() - j;
        buf.append(node.prefix, j, std::string::npos);
        for (const auto& [ch, c] : node.children) {
            buf.push_back(static_cast<char>(ch));
            search_all(c, 0, buf, subkey, out);
            buf.pop_back();
        }
        if (!node.values.empty() && checked_glob_match(buf, subkey))
            for (const Value& v : node.values) add_value(out, v.value, v.priority);
        buf.resize(buf.size() - pushed);
    }

    std::vector<Node> nodes_;
};

} // namespace fuzz
