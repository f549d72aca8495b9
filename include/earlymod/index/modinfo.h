// What a module file says about itself: the key=value strings of its
// .modinfo ELF section, and the signature appended to the file, read as
// kmod's modinfo reads them (libkmod-elf.c, libkmod-signature.c,
// libkmod-builtin.c).
//
// Everything here is a pure function over a byte buffer the caller holds
// (a mapped or decompressed module, modules.builtin.modinfo): no file is
// opened, nothing is allocated but the entries appended to the caller's
// Vec, and the views returned point into the buffer. The buffer is
// untrusted: every offset and size is checked against its length before
// it is read, so a truncated or crafted file gives an error, never a read
// out of bounds (tests/fuzz/fuzz_modinfo.cpp).
//
// ELF files of either class (32 or 64 bit) and either byte order are read,
// as kmod reads them. The checks, each an error naming the file and the
// check (code ENOEXEC for a file that is not ELF at all, EINVAL for a
// damaged one, ENOENT when it has no section named .modinfo; kmod's
// modinfo reports these codes' strerror):
//   - the ELF magic, a known class and data encoding, a whole ELF header;
//   - section header entries of the class's size, the whole table inside
//     the file (e_shoff + e_shnum * e_shentsize, without overflow);
//   - the section-name string table: a valid index, its bytes inside the
//     file, non-empty and ending in a NUL;
//   - a section whose bytes lie past the end of the file is skipped, as
//     kmod skips it: when the only .modinfo is such a one, the error says so.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string_view>

#include "earlymod/util/error.h"
#include "earlymod/util/memory.h"

namespace earlymod {

// One string of .modinfo: "key=value" split at the first '='. A string
// without '=' is a key with an empty value (kmod's reading).
struct ModinfoEntry {
    std::string_view key;
    std::string_view value;
};

// Appends the .modinfo strings of the ELF image to out, in file order:
// runs of NUL bytes separate them, empty strings are skipped, and a last
// string without its NUL ends at the section's end. shown names the file
// in errors.
Error read_modinfo(const unsigned char* data, size_t size, std::string_view shown, Vec<ModinfoEntry>& out);

// The records of modules.builtin.modinfo ("modname.key=value", NUL-ended)
// for one module name: the first contiguous run of records with that
// prefix, as kmod reads them. A record without a '.' met before the run
// ends is an error (EINVAL) naming shown. No record: no entries, no error.
Error read_builtin_modinfo(std::string_view text, std::string_view module, std::string_view shown,
                           Vec<ModinfoEntry>& out);

// The signature appended to a module file (after the ELF image):
//   [ELF][signer][key id][signature][struct module_signature][magic]
// with magic "~Module signature appended~\n". For the PKCS#7 id type (the
// only one the kernel's sign-file writes) the signer, key id and hash
// algorithm come from the PKCS#7 SignedData's first SignerInfo, through a
// bounds-checked DER walk: signer = the issuer's commonName (else its last
// attribute), key id = the serial number's magnitude, hash = the digest
// algorithm's name, signature = the encryptedDigest. For the other id
// types (PGP, X509) they are the trailer's own fields.
struct ModuleSignature {
    std::string_view id_type;   // "PKCS#7", "X509", "PGP"
    std::string_view signer;    // may be empty
    std::string_view key_id;    // raw bytes (kmod prints them as hex)
    std::string_view hash_algo; // "sha256"... (or the OID, dotted)
    std::string_view signature; // raw bytes
    // Backing store for what is not a view into the file.
    unsigned char key_buf[64];
    char algo_buf[96];
};

// Whether the file (the decompressed image) carries a signature kmod would
// show; false when there is none or it does not parse (kmod then shows no
// signature fields either).
bool read_module_signature(const unsigned char* data, size_t size, ModuleSignature* out);

// Bytes as kmod prints a key id or signature: "01:AB:..." in upper case,
// with "\n\t\t" after every 20th byte's ':'. Appends to out.
void append_hex_wrapped(std::string_view bytes, Vec<char>& out);

} // namespace earlymod
