// modprobe.d configuration and the kernel command line, read as kmod reads
// them.
//
// Sources, in the order their entries apply:
//   1. *.conf (and *.alias) files from the modprobe.d directories, all
//      merged and sorted by file name; for a name present in several
//      directories the first directory wins. <moddir>/modules.softdep
//      (written by depmod) joins the same sorted list. With -C, the given
//      files or directories replace the default directories.
//   2. The kernel command line: modprobe.blacklist=a,b and mod.param=value.
//
// Directives: alias, options, install, remove, blacklist, softdep. weakdep
// is accepted and ignored (it never loads anything); include and config are
// obsolete and ignored. A '#' starts a comment only in column 0, and a
// trailing backslash joins the next line. Bad lines are reported with file
// and line and skipped.
#pragma once

#include <stdint.h>

#include <string_view>

#include "earlymod/util/files.h"
#include "earlymod/util/memory.h"

namespace earlymod {

class OutBuf;

// Limits on what the configuration may hold, each far above anything real
// so that they never change a result, only refuse input that would
// otherwise exhaust memory or time. Measured on Debian 12 with its 6.1
// kernel: modules.softdep has 55 lines of at most 95 bytes, the host's
// modprobe.d files 13 to 19 lines each; about 100 directives in all.
//
// Physical lines in one file (each file is also at most
// max_whole_file_bytes, see files.h): past this the whole file is refused,
// with an error naming it and the limit. Blank and comment lines count, as
// do backslash-joined ones; directives are bounded by max_config_entries.
constexpr size_t max_config_lines = 1000000;
// Bytes in one logical line (backslash-joined lines counted together):
// a longer line is ignored with an error naming the file, the line and
// the limit.
constexpr size_t max_config_line_bytes = 65536;
// Directives kept from all files together (aliases, options, commands,
// blacklist and softdep lines): once reached, each file that adds more
// gets one error naming it, the line and the limit, and its further
// directives are ignored. Every lookup scans the aliases, so this also
// bounds the time a lookup takes.
constexpr size_t max_config_entries = 100000;

struct ConfigAlias {
    std::string_view pattern; // glob, underscore-normalised
    std::string_view module;
    bool glob; // pattern has wildcards (else: plain compare)
};

struct ConfigOptions {
    std::string_view module;  // underscore-normalised name or alias
    std::string_view options; // as written, tabs turned into spaces
};

struct ConfigCommand {
    std::string_view module;  // glob
    std::string_view command; // shell command, $CMDLINE_OPTS unexpanded
    bool glob;
};

struct ConfigSoftdep {
    std::string_view module; // glob
    const std::string_view* pre;
    const std::string_view* post;
    uint32_t n_pre;
    uint32_t n_post;
    bool glob;
    std::string_view file; // where the line is, for messages
    uint32_t line;
};

// A configuration name against a module name: fnmatch() for patterns, a
// plain comparison otherwise (most entries; far cheaper).
bool config_name_matches(std::string_view pattern, bool glob, std::string_view name);

// The default modprobe.d directories, highest precedence first.
extern const char* const default_modprobe_dirs[];

class Config {
public:
    Config() = default;
    Config(const Config&) = delete;
    Config& operator=(const Config&) = delete;

    // Reads the configuration. paths: -C arguments, or null/empty for the
    // default directories (none with default_dirs false). moddir: the modules dir (for modules.softdep),
    // as seen inside root. cmdline: /proc/cmdline (inside root), or null
    // to skip it.
    void load(const FsRoot& root, const std::string_view* paths, size_t n_paths, std::string_view moddir,
              const char* cmdline, bool default_dirs = true);

    // Parses one configuration file's text; shown names it in messages.
    void parse(std::string_view text, std::string_view shown);
    // Applies a kernel command line (its first 4095 bytes, as kmod).
    void parse_cmdline_options(std::string_view cmdline);

    bool is_blacklisted(std::string_view module) const;
    // First softdep whose pattern matches module, or null.
    const ConfigSoftdep* softdep_for(std::string_view module) const;
    // First install / remove command whose pattern matches module.
    bool install_for(std::string_view module, std::string_view* command) const;
    bool remove_for(std::string_view module, std::string_view* command) const;

    // The configuration part of `modprobe -c`.
    void show(OutBuf& out) const;

    Vec<std::string_view> blacklist;
    Vec<ConfigAlias> aliases;
    Vec<ConfigOptions> options;
    Vec<ConfigCommand> install;
    Vec<ConfigCommand> remove;
    Vec<ConfigSoftdep> softdeps;

private:
    void parse_line(char* line, size_t len, std::string_view shown, unsigned lineno);
    void index_softdeps() const;
    void add_softdep(std::string_view module, std::string_view spec, std::string_view shown, unsigned lineno);
    size_t entry_count() const {
        return blacklist.size() + aliases.size() + options.size() + install.size() + remove.size() + softdeps.size();
    }

    Arena arena_;
    Vec<char> line_;                     // the logical line being parsed, reused across files
    bool entries_full_reported_ = false; // for the file being parsed
    // Built on first use: plain softdep names -> first entry, so that a
    // lookup does not scan every softdep line (modules.softdep has many).
    mutable StrMap<uint32_t> softdep_by_name_;
    mutable Vec<uint32_t> softdep_globs_;
    mutable size_t softdeps_indexed_ = 0;
};

} // namespace earlymod
