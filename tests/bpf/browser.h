// SPDX-License-Identifier: Apache-2.0
// Headless Chromium (Debian's chromium) for the report tests: load a page, dump its DOM after
// the page's script ran, take a screenshot. Console errors and CSP refusals come back in err.
#pragma once

#include <filesystem>
#include <string>

#include "harness.h"

namespace vigil::test {

// Debian's chromium, if it runs here: in the VM the host's /usr is shared but not its /etc, and
// the wrapper script stops at /etc/chromium.d. "" when there is none that answers --version.
inline std::string chromium_bin()
{
  static const std::string bin = [] {
    for (const char *c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
      if (std::filesystem::exists(c) &&
          run({c, "--headless", "--no-sandbox", "--version"}, {}, std::chrono::seconds(60))
                  .status == 0)
        return std::string(c);
    return std::string();
  }();
  return bin;
}

// Where tests leave what a person may want to look at (screenshots): $VIGIL_TEST_OUTPUT, or
// test-output/ in the build tree.
inline std::string test_output_dir()
{
  std::string dir = env_or("VIGIL_TEST_OUTPUT", VG_TEST_OUTPUT_DIR);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Browser {
  TempDir profile; // a fresh user-data-dir: no state shared between runs
  std::vector<std::string> argv(const std::string &what) const
  {
    // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
    return {chromium_bin(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            "--user-data-dir=" + profile.path(),
            "--window-size=1400,2000",
            what};
  }
  // The DOM after load (the page's script has run), of a file:// URL (with an optional #hash).
  ProcResult dump_dom(const std::string &file, const std::string &hash = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(120)) const
  {
    auto a = argv("--dump-dom");
    a.push_back("file://" + file + hash);
    return run(a, {}, timeout);
  }
  ProcResult screenshot(const std::string &file, const std::string &png) const
  {
    auto a = argv("--screenshot=" + png);
    a.push_back("file://" + file);
    return run(a, {}, std::chrono::seconds(120));
  }
};

// The page's own errors in Chromium's log: uncaught exceptions and CSP refusals.
inline bool page_errors(const std::string &err)
{
  return err.find("Uncaught") != std::string::npos || err.find("Refused to") != std::string::npos;
}

// The value of attribute attr of the element with id (as --dump-dom serialises it: id first).
inline std::string attr_of(const std::string &dom, const std::string &id, const std::string &attr)
{
  const size_t at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos)
    return "";
  const size_t open = dom.rfind('<', at);
  const size_t close = dom.find('>', at);
  const std::string tag = dom.substr(open, close - open);
  const size_t a = tag.find(" " + attr + "=\"");
  if (a == std::string::npos)
    return "";
  const size_t v = a + attr.size() + 3;
  return tag.substr(v, tag.find('"', v) - v);
}

inline std::string body_attr(const std::string &dom, const std::string &attr)
{
  const size_t open = dom.find("<body");
  if (open == std::string::npos)
    return "";
  const std::string tag = dom.substr(open, dom.find('>', open) - open);
  const size_t a = tag.find(" " + attr + "=\"");
  if (a == std::string::npos)
    return "";
  const size_t v = a + attr.size() + 3;
  return tag.substr(v, tag.find('"', v) - v);
}

} // namespace vigil::test
