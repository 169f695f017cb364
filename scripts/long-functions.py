#!/usr/bin/env python3
"""Lists Rust functions longer than a limit (default 150 lines) in the files git tracks.

Usage: python3 scripts/long-functions.py [LIMIT]. Exits 1 when one is found (CI runs it). A function
is counted from its `fn` line to the line of its closing brace; braces inside strings, chars and
comments are skipped.
"""
import re
import subprocess
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def code_only(line, state):
    """The line without strings, chars and comments; state carries block comments and raw strings."""
    out = []
    i = 0
    while i < len(line):
        if state["block"]:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out)
            state["block"] = False
            i = end + 2
            continue
        if state["raw"]:
            end = line.find('"' + "#" * state["raw_hashes"], i)
            if end < 0:
                return "".join(out)
            state["raw"] = False
            i = end + 1 + state["raw_hashes"]
            continue
        if state["string"]:
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                state["string"] = False
            i += 1
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] = True
            i += 2
            continue
        raw = re.match(r'b?r(#*)"', line[i:])
        if raw and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            state["raw"] = True
            state["raw_hashes"] = len(raw.group(1))
            i += raw.end()
            continue
        if c == '"':
            state["string"] = True
            i += 1
            continue
        char = re.match(r"b?'(\\.[^']*|[^\\'])'", line[i:])
        if char:
            i += char.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)


def long_functions(path, limit):
    found = []
    state = {"block": False, "raw": False, "raw_hashes": 0, "string": False}
    stack = []  # (name, start line, depth at which its body opened) for functions being read
    depth = 0
    pending = None  # a fn whose opening brace has not been seen yet
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not (state["block"] or state["raw"] or state["string"]):
                m = FN.match(line)
                if m:
                    pending = (m.group(7), number)
            for c in code_only(line, state):
                if c == ";" and pending and depth == (stack[-1][2] if stack else depth):
                    pending = None  # a declaration without a body (trait method, extern)
                elif c == "{":
                    depth += 1
                    if pending:
                        stack.append((pending[0], pending[1], depth))
                        pending = None
                elif c == "}":
                    if stack and stack[-1][2] == depth:
                        name, start, _ = stack.pop()
                        length = number - start + 1
                        if length > limit:
                            found.append((path, start, name, length))
                    depth -= 1
    return found


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    files = subprocess.run(["git", "ls-files", "*.rs"], capture_output=True, text=True, check=True).stdout.split()
    found = [f for path in files for f in long_functions(path, limit)]
    for path, start, name, length in found:
        print(f"{path}:{start}: fn {name} is {length} lines (limit {limit})")
    print(f"{len(found)} functions over {limit} lines in {len(files)} Rust files")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
