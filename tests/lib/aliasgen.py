"""Turn the patterns of a modules.alias file into concrete alias queries.

Shared by tests/differential/run, tests/valgrind/run,
tests/depmod-fixture/run (usable()) and tests/differential/gen-queries (which
scripts/bench calls). Everything is driven by a random.Random with a fixed
seed, so the same tree always gives the same queries.

Each pattern is instantiated the way a device would produce a modalias that
matches it:
  *      -> a string of 0, 1 or several characters
  ?      -> one character
  [...]  -> one member of the class (ranges like 0-9 expanded); for a negated
            class [!...] or [^...] a character outside of it
  \\x     -> the literal x
Queries that kmod's modprobe would read as something else (an option, because
it starts with '-', or a path, because it starts with '/' or './') are
avoided, as are queries with whitespace.
"""

import os
import random
import string

DEFAULT_COUNT = 5000
DEFAULT_SEED = "earlymod-alias-queries-v1"

# Characters used to fill '*' and '?': hex digits in both cases (modaliases
# are mostly uppercase hex), a few letters, and '_' and '-' (which kmod
# treats as equal in names).
FILL = string.digits + "ABCDEF" + "abcdefxyz" + "_-"
# Extra characters a negated class may pick from when FILL is all excluded.
SPARE = string.ascii_letters + string.digits + "_.:,+="


def read_patterns(moddir):
    """Alias patterns of modules.alias in file order, duplicates dropped."""
    seen = set()
    patterns = []
    with open(os.path.join(moddir, "modules.alias"), encoding="utf-8",
              errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3 or fields[0] != "alias":
                continue
            pat = fields[1]
            if pat not in seen:
                seen.add(pat)
                patterns.append(pat)
    return patterns


def _fill(rng):
    r = rng.random()
    if r < 0.3:
        n = 0
    elif r < 0.6:
        n = 1
    else:
        n = rng.randint(2, 8)
    return "".join(rng.choice(FILL) for _ in range(n))


def _parse_class(pattern, i):
    """Parse the class starting at pattern[i] == '['.

    Returns (members, negated, index after ']') or None when the '[' has no
    closing ']' (it is then a literal character, as for fnmatch)."""
    j = i + 1
    negated = False
    if j < len(pattern) and pattern[j] in "!^":
        negated = True
        j += 1
    members = []
    first = True
    while j < len(pattern):
        c = pattern[j]
        if c == "]" and not first:
            return members, negated, j + 1
        first = False
        if c == "\\" and j + 1 < len(pattern):
            c = pattern[j + 1]
            j += 1
        if (j + 2 < len(pattern) and pattern[j + 1] == "-"
                and pattern[j + 2] != "]"):
            lo, hi = ord(c), ord(pattern[j + 2])
            if lo <= hi:
                members.extend(chr(k) for k in range(lo, hi + 1))
            j += 3
            continue
        members.append(c)
        j += 1
    return None


def instantiate(pattern, rng):
    """One concrete string matching the shell-style pattern."""
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(_fill(rng))
            i += 1
        elif c == "?":
            out.append(rng.choice(FILL))
            i += 1
        elif c == "[":
            parsed = _parse_class(pattern, i)
            if parsed is None:
                out.append(c)
                i += 1
                continue
            members, negated, i = parsed
            if negated:
                pool = [ch for ch in FILL + SPARE if ch not in members]
                out.append(rng.choice(pool) if pool else "~")
            else:
                members = [ch for ch in members if not ch.isspace()]
                out.append(rng.choice(members) if members else "0")
        elif c == "\\" and i + 1 < n:
            out.append(pattern[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def usable(query):
    """Whether modprobe would take the string as a plain module/alias name."""
    return (query != "" and not query.startswith("-")
            and not query.startswith("/") and not query.startswith("./")
            and not any(ch.isspace() for ch in query))


def _one(pattern, rng):
    for _ in range(8):
        q = instantiate(pattern, rng)
        if usable(q):
            return q
    return None


def generate(patterns, count=DEFAULT_COUNT, seed=DEFAULT_SEED):
    """At least `count` distinct queries (fewer only if the patterns cannot
    give that many).

    With more patterns than needed: a deterministic sample of 80% of `count`
    patterns, instantiated once each, then extra instantiations of randomly
    chosen wildcard patterns until the count is reached. With fewer: every
    pattern once, then extras the same way."""
    rng = random.Random(seed)
    if len(patterns) > count:
        base = rng.sample(patterns, count * 4 // 5)
    else:
        base = list(patterns)
    queries = []
    seen = set()

    def add(q):
        if q is not None and q not in seen:
            seen.add(q)
            queries.append(q)

    for p in base:
        add(_one(p, rng))
    wild = [p for p in patterns if any(ch in p for ch in "*?[")]
    pool = wild or list(patterns)
    attempts = 0
    while len(queries) < count and pool and attempts < count * 20:
        attempts += 1
        add(_one(rng.choice(pool), rng))
    return queries


def generate_for_tree(moddir, count=DEFAULT_COUNT, seed=DEFAULT_SEED):
    return generate(read_patterns(moddir), count, seed)
