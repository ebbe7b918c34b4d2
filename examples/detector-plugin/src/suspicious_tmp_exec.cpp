// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// suspicious_tmp_exec.cpp — an example detector: a class with a constructor and one method.
#include <phantomguard/sdk/detector.hpp>

#include <set>

class tmp_exec final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "tmp_exec"; // as in manifest.json

  tmp_exec(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), directories_(cfg.get_string_list("directories")) {}

  void on_event(const pg::sdk::event_view& e) override {
    const std::string_view exe = e.get_string("exe");
    for (const auto& dir : directories_) {
      if (exe.substr(0, dir.size()) != dir)
        continue;
      const std::int64_t pid = e.get_int("pid", -1);
      if (!reported_.insert(pid).second)
        return; // once per process
      host_.emit(pg::sdk::finding("example.tmp_exec", pg::sdk::severity::high,
                                  "program executed from a scratch directory")
                     .entity("pid", pid)
                     .entity("exe", exe)
                     .evidence("directory", dir)
                     .mitre("T1059"));
      return;
    }
  }

private:
  pg::sdk::host host_;
  std::vector<std::string> directories_;
  std::set<std::int64_t> reported_;
};

PHANTOMGUARD_PLUGIN(tmp_exec)
