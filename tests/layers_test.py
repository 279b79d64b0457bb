#!/usr/bin/env python3
"""The layers of docs/DESIGN.md §4, checked on every include of lib/ (issue 28).

Each layer is a folder of lib/ and a CMake target: core (pure decisions and values) < os
(syscalls, one owner each) < runtime (the loop and what it drives) < app (argv to Config,
startup). A target sees only the headers of its own folder and of the layers below it, so the
compiler already refuses an include of a higher layer; this test says which one, names the
rule, and checks what the compiler cannot: core includes no Boost, spdlog, CLI11 or header
whose purpose is a syscall, and no file sits outside a layer.

No file of lib/ is over MAX_LINES lines (CONTRIBUTING: files under ~400 lines, one concept per
pair, named after it). OVER_LIMIT lists the files over it today, each with the split under way
that will end it; the test fails on a file over the limit that is not listed, and on a listed
one that no longer is, so the list can only shrink.
"""
import os
import re
import sys

ORDER = ["core", "os", "runtime", "app"]
CORE_FORBIDDEN = re.compile(
    r"^(boost/|spdlog/|CLI/|unistd\.h|fcntl\.h|poll\.h|dirent\.h|pwd\.h|grp\.h|"
    r"sys/(stat|syscall|prctl|epoll|fsuid|ioctl|mman|ptrace)\.h)")
MAX_LINES = 400

# File under lib/: the split that will bring it under MAX_LINES.
OVER_LIMIT = {
}


def check_lengths(lib):
    """What breaks MAX_LINES outside OVER_LIMIT, and what in OVER_LIMIT no longer does."""
    over = set()
    for directory, _, names in os.walk(lib):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8", errors="replace") as file:
                if len(file.read().splitlines()) > MAX_LINES:
                    over.add(os.path.relpath(path, lib))
    problems = [f"lib/{name}: over {MAX_LINES} lines: split out a concept, named after it"
                for name in sorted(over - OVER_LIMIT.keys())]
    problems += [f"lib/{name}: no longer over {MAX_LINES} lines: take it off OVER_LIMIT"
                 for name in sorted(OVER_LIMIT.keys() - over)]
    return problems


def main(lib):
    layer_of = {}
    files = []
    problems = []
    for entry in sorted(os.listdir(lib)):
        path = os.path.join(lib, entry)
        if entry == "CMakeLists.txt":
            continue
        if not os.path.isdir(path) or entry not in ORDER:
            problems.append(f"lib/{entry}: not in a layer folder ({', '.join(ORDER)})")
            continue
        for name in sorted(os.listdir(path)):
            module, ext = os.path.splitext(name)
            if ext in (".hpp", ".cpp"):
                layer_of[module] = entry
                files.append((entry, name))
    found = 0
    for mine, name in files:
        text = open(os.path.join(lib, mine, name), encoding="utf-8").read()
        where = f"lib/{mine}/{name}"
        for used in re.findall(r'^#include "([a-z_]+)\.hpp"', text, re.M):
            if used not in layer_of:
                problems.append(f"{where}: includes {used}.hpp, which is in no layer")
            elif ORDER.index(layer_of[used]) > ORDER.index(mine):
                problems.append(f"{where}: includes {used}.hpp of {layer_of[used]}, above {mine}")
                found += 1
        if mine == "core":
            for header in re.findall(r"^#include <([^>]+)>", text, re.M):
                if CORE_FORBIDDEN.match(header):
                    problems.append(f"{where}: includes <{header}>, which core may not")
                    found += 1
    problems += check_lengths(lib)
    for problem in problems:
        print(problem)
    print(f"layers: {len(files)} files in {len(ORDER)} layers, {found} violation(s), "
          f"{len(OVER_LIMIT)} file(s) left over {MAX_LINES} lines, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "lib"))
