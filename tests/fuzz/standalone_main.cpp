// SPDX-License-Identifier: Apache-2.0
// A main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once on every file
// named (directories: every file inside, recursively). The normal and sanitizer builds use it to
// replay the checked-in corpora, regression inputs included, as unit tests.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

bool run_file(const std::filesystem::path &p)
{
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy of exactly the input's size, so that ASan sees a read one past the end.
  std::vector<uint8_t> data(bytes.begin(), bytes.end());
  static const uint8_t kEmpty = 0; // libFuzzer never passes a null pointer, even for no bytes
  LLVMFuzzerTestOneInput(data.empty() ? &kEmpty : data.data(), data.size());
  return true;
}

} // namespace

int main(int argc, char **argv)
{
  size_t inputs = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (std::filesystem::is_directory(argv[i], ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto &e : std::filesystem::recursive_directory_iterator(argv[i], ec))
        if (e.is_regular_file())
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto &f : files) {
        ok = run_file(f) && ok;
        ++inputs;
      }
    } else {
      ok = run_file(argv[i]) && ok;
      ++inputs;
    }
  }
  if (inputs == 0) {
    std::fprintf(stderr, "no inputs: a corpus replay that runs nothing tests nothing\n");
    return 1;
  }
  std::printf("%zu inputs ran\n", inputs);
  return ok ? 0 : 1;
}
