// The kernel command line, split the way the kernel itself splits it
// (lib/cmdline.c, next_arg): blanks separate parameters, double quotes
// group blanks into one, "key=value" splits at the first '=', and quotes
// around a whole parameter or around its value are dropped. Everything
// after a lone "--" belongs to init and is not a parameter.
//
// Boot code reads its keys from here: rd.modules_load=, root=, init=,
// module_blacklist= and the rest. (modprobe's mod.param= options follow
// kmod's own, different rules: see config.h.)
#pragma once

#include <string_view>

#include "earlymod/util/files.h"
#include "earlymod/util/memory.h"

namespace earlymod {

struct KernelParam {
    std::string_view key;
    std::string_view value; // empty when there is no '='
    bool has_value;
};

class KernelParams {
public:
    // Appends the parameters of one command line (text is copied).
    void parse(std::string_view cmdline);
    // The effective command line at boot: dracut's /etc/cmdline.d/*.conf
    // and /etc/cmdline (in that order), then /proc/cmdline, under root.
    void load(const FsRoot& root);

    const Vec<KernelParam>& params() const { return params_; }
    // The last value of key (keys compare with '-' and '_' equal).
    bool get(std::string_view key, std::string_view* value) const;
    // Whether key appears at all (with or without a value).
    bool has(std::string_view key) const;
    // A yes/no key: `absent` when it is not there; off when its last value
    // is 0, n, no, f, false or off (as systemd reads booleans), on for any
    // other value and for the bare key ("earlymod.debug").
    bool flag(std::string_view key, bool absent) const;
    // Every value of key, each split at commas, in order.
    void list(std::string_view key, Vec<std::string_view>& out) const;
    // A number key (seconds, a count): the last value as a decimal number
    // from 0 to max. A larger one, however many digits it has (past what
    // unsigned long holds too), is taken as max: "rootdelay=99999999999"
    // means "very long", never a short value wrapped around. Absent: dflt.
    // Not a decimal number (empty, a sign, a letter): dflt. Either
    // correction is logged as a warning that names the key and the value
    // used.
    unsigned long number(std::string_view key, unsigned long dflt, unsigned long max) const;

private:
    Arena arena_;
    Vec<KernelParam> params_;
};

// Keys compare with dashes and underscores equal, as systemd does.
bool param_key_equal(std::string_view a, std::string_view b);

} // namespace earlymod
