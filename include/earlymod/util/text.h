// Text helpers shared by the index readers, the configuration parser and
// the command line: kmod's name normalisation rules, glob matching, and
// splitting without copies.
#pragma once

#include <stddef.h>

#include <string_view>

namespace earlymod {

class Arena;

// Module names: '-' becomes '_', and the name stops at the first '.'
// ("snd-hda-intel.ko" -> "snd_hda_intel"). Writes at most cap-1 bytes and a
// NUL into buf; returns the normalised view into buf.
std::string_view normalize_modname(std::string_view name, char* buf, size_t cap);

// Aliases: '-' becomes '_' except inside [...] brackets. An unmatched ']' or
// an unterminated '[' makes the alias invalid (returns false), as in kmod.
bool normalize_alias(std::string_view alias, char* buf, size_t cap, std::string_view* out);

// In-place variant used on configuration words (kmod's underscores()).
bool underscores_in_place(char* s, size_t len);

// fnmatch(3) with no flags, on views. The pattern and the string may
// contain any bytes but NUL.
bool glob_match(std::string_view pattern, std::string_view s);

// True if s has a glob metacharacter (*, ?, [ or the escape \\).
bool has_glob(std::string_view s);

// The last path component ("a/b/c.ko" -> "c.ko").
std::string_view path_basename(std::string_view path);

// Splits off the next token separated by any of the bytes in seps,
// skipping leading separators. Returns an empty view at the end.
std::string_view next_token(std::string_view& rest, std::string_view seps);

// Whether text has more than max items ended by sep (a last one without
// sep counts): the line (or record) caps, checked before a parser stores
// anything.
bool more_items_than(std::string_view text, char sep, size_t max);

bool is_space(char c);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);

// Takes the next line off the front of text into *line, without its '\n'
// (the last line may lack one): the loop over a file's lines is
//     std::string_view line;
//     while (next_line(text, &line)) ...
// False when text is empty.
bool next_line(std::string_view& text, std::string_view* line);

// Parses a decimal unsigned integer; false on junk or overflow.
bool parse_uint(std::string_view s, unsigned long* out);

// A path is "safe" to join under the modules dir when it is relative and
// has no ".." component: modules.dep must never point outside that dir.
bool is_safe_relative_path(std::string_view path);

} // namespace earlymod
