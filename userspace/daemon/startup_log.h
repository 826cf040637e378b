// SPDX-License-Identifier: Apache-2.0
// Start-up detail held back: `vigil run` wraps an interactive agent, and a screen of notes before
// the agent's first line (what this kernel cannot enforce, host names not yet resolved, the
// capabilities dropped) buries it. While held, log lines below `error` are kept instead of
// printed; errors always pass. vigil run then prints a summary of at most three lines, and
// `-v` prints everything as it comes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vigil::daemon {

// Starts holding the default logger's lines below `error` (setup_logging() must have run).
void hold_startup_log();

// Stops holding. print: write the held lines now (in order); otherwise drop them. Returns how
// many were held.
size_t release_startup_log(bool print);

// One line naming what this kernel leaves to vigil's other defences (lsm: BPF LSM programs are in
// use): the self-protection attempts it does not stop at all, and those it stops by killing the
// caller instead of refusing the call, with the pointer to `vigil doctor`. "" when it refuses
// every one (BPF LSM).
std::string kernel_gaps_line(bool lsm);

// "start-up: 12.3 ms: <step>" at debug level, the time since the process started: where the
// start-up of `vigil run` and the daemon goes (`--log-level debug`).
void startup_step(std::string_view step);

} // namespace vigil::daemon
