#!/usr/bin/env python3
"""The layers of docs/DESIGN.md §4, checked on every include of lib/ (issue 28).

A module may include modules of its own layer and of the layers below it: core (pure
decisions and values) < os (syscalls, one owner each) < runtime (the loop and what it drives)
< app (argv to Config, startup). core includes no Boost, spdlog, CLI11 or header whose purpose
is a syscall. A module not in the map fails the test: a new file is placed on purpose.

KNOWN lists what breaks the rule today, each with the split that will end it. The test fails on
a violation that is not listed, and on a listed one that no longer occurs, so the list can only
shrink.
"""
import os
import re
import sys

LAYERS = {
    "core": """address child_env child_protocols config duration exit_code exit_status freeing_rule gate_spec
               env_text handover launch_plan listen_spec log_level read_budget result signal_name status supervisor
               supervisor_rollout text upgrade_machine""",
    "os": """accounts accounts_files accounts_nss activation command control_directory env_file
             foreign_helper free_port group_signal listener log notify_socket pid_file port_owner
             procfs reaper scm_rights sd_notify sock_diag socket_waiters spawn system_view
             takeover_filter unique_fd unix_socket upgrade""",
    "runtime": """accept_gate bind_takeover control event_loop event_loop_launch
                  event_loop_upgrade listener_watch notify_channels readiness restart_ledger
                  timer_table wait_gate""",
    "app": "cli cli_ctl cli_help run",
}
ORDER = ["core", "os", "runtime", "app"]
CORE_FORBIDDEN = re.compile(
    r"^(boost/|spdlog/|CLI/|unistd\.h|fcntl\.h|poll\.h|dirent\.h|pwd\.h|grp\.h|"
    r"sys/(stat|syscall|prctl|epoll|fsuid|ioctl|mman|ptrace)\.h)")

# (file, what it includes): the split that ends it.
KNOWN = {
}


def main(lib):
    layer_of = {name: layer for layer, names in LAYERS.items() for name in names.split()}
    found = set()
    problems = []
    for entry in sorted(os.listdir(lib)):
        module, ext = os.path.splitext(entry)
        if ext not in (".hpp", ".cpp"):
            continue
        if module not in layer_of:
            problems.append(f"lib/{entry}: not in any layer (tests/layers_test.py, LAYERS)")
            continue
        mine = layer_of[module]
        text = open(os.path.join(lib, entry), encoding="utf-8").read()
        for used in re.findall(r'^#include "([a-z_]+)\.hpp"', text, re.M):
            if used not in layer_of:
                problems.append(f"lib/{entry}: includes {used}.hpp, which is in no layer")
            elif ORDER.index(layer_of[used]) > ORDER.index(mine):
                found.add((entry, used))
        if mine == "core":
            for header in re.findall(r"^#include <([^>]+)>", text, re.M):
                if CORE_FORBIDDEN.match(header):
                    found.add((entry, f"<{header}>"))
    for violation in sorted(found - KNOWN.keys()):
        entry, used = violation
        problems.append(f"lib/{entry}: includes {used}, above its layer or forbidden in core")
    for gone in sorted(KNOWN.keys() - found):
        problems.append(f"lib/{gone[0]} no longer includes {gone[1]}: take it off KNOWN")
    for problem in problems:
        print(problem)
    print(f"layers: {len(found)} known violation(s) left, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "lib"))
