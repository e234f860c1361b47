"""gitignore-style patterns: which files of a package to leave out (`excludes`, .gitignore, .rayignore).

A pattern names files relative to the directory it belongs to (the package
root for `excludes`, the folder of a .gitignore file for its lines):

- `name` (no slash) matches a file or folder of that name at any depth;
- `a/b`, `/a`: a slash anywhere but at the end anchors it to that directory;
- `dir/`: a trailing slash matches folders only;
- `*` and `?` match within one path component, `[abc]` a class, `**` any
  number of components (`**/x`, `x/**`, `a/**/b`);
- `!pattern` takes a match back; the last pattern that matches decides.

A folder that is left out is not entered, so nothing inside it can be taken
back (as in git).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negated: bool
    dirs_only: bool
    base: str  # the directory (relative to the package root, "" for the root) the pattern belongs to


def _translate(body: str) -> str:
    """A glob of path components as a regular expression (without anchors)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("/**", i) and i + 3 == len(body):
            out.append("/.*")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = body.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                inner = body[i + 1 : end]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append(f"[{inner.replace(chr(92), chr(92) * 2)}]")
                i = end + 1
        elif c == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse(lines: list[str], base: str = "") -> list[Pattern]:
    """The patterns of a .gitignore file (or an excludes list) that belongs to folder `base`."""
    patterns: list[Pattern] = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip(" ") if not raw.rstrip("\n").endswith("\\ ") else raw.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        dirs_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        regex = _translate(line)
        if not anchored:
            regex = "(?:.*/)?" + regex
        patterns.append(Pattern(re.compile(f"^{regex}$"), negated, dirs_only, base))
    return patterns


def excluded(patterns: list[Pattern], path: str, is_dir: bool) -> bool:
    """Whether `path` (relative to the package root, with /) is left out; the last matching pattern decides."""
    result = False
    for p in patterns:
        if p.dirs_only and not is_dir:
            continue
        if p.base:
            if not path.startswith(p.base + "/"):
                continue
            rel = path[len(p.base) + 1 :]
        else:
            rel = path
        if p.regex.match(rel):
            result = not p.negated
    return result
