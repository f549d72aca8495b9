// Helpers for tests: temporary fixture trees, files, and a writer for
// kmod's binary index format (so that the .bin reader is tested on files
// whose exact layout the test controls, damaged ones included).
#pragma once

#include <stdint.h>

#include <string>
#include <utility>
#include <vector>

namespace fixture {

// A temporary directory removed when the object dies.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Writes (creating parent dirs) a file at path relative to the root.
    void write(const std::string& rel, const std::string& content) const;
    std::string read(const std::string& rel) const;
    void mkdir(const std::string& rel) const;

private:
    std::string path_;
};

struct IndexEntry {
    std::string key;
    std::string value;
    uint32_t priority;
};

// Bytes of a kmod binary index holding the entries (depmod's layout:
// Patricia trie, children written before parents).
std::string write_bin_index(const std::vector<IndexEntry>& entries);

// Runs a function with stdout and stderr captured into strings; returns
// the function's result.
struct Captured {
    int status;
    std::string out;
    std::string err;
};
Captured capture(int (*fn)(int, char**), std::vector<std::string> args);

} // namespace fixture
