// Configuration directories, listed the one way kmod (modprobe.d), systemd
// (modules-load.d) and dracut (cmdline.d) all read them.
//
// Several directories in order of precedence (/etc, /run, /usr/local/lib,
// /usr/lib, /lib); the files of all of them merged and read in order of
// file name; for a name found in several directories, the first directory
// wins; a file that is a symbolic link to /dev/null masks its name (it
// reads as empty, so the three programs agree on that too). Hidden files,
// and names the caller does not want (by suffix), are left out; a
// directory among the files is an error, said once, and skipped.
#pragma once

#include <string_view>

#include "earlymod/util/files.h"
#include "earlymod/util/memory.h"

namespace earlymod {

struct ConfigFile {
    std::string_view name; // the file name: the sort key, and what masks
    std::string_view path; // as seen inside the root: dir + "/" + name
    bool masked = false;   // a link to /dev/null: skip it
};

// Adds the wanted files of dir (a path inside root) to files, unless a
// file of that name is already there (an earlier directory's). A dir that
// does not exist adds nothing, silently; one that cannot be read is an
// error naming it. A dir that is a file is added as itself (kmod's -C
// FILE). Paths are resolved inside root (FsRoot::host_path).
void add_config_dir(const FsRoot& root, Arena& arena, std::string_view dir, bool (*wanted)(std::string_view name),
                    Vec<ConfigFile>& files);

// Sorts files by name, the order they are read in.
void sort_config_files(Vec<ConfigFile>& files);

} // namespace earlymod
