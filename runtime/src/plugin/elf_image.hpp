// SPDX-License-Identifier: Apache-2.0
// elf_image.hpp — reads what the plugin loader needs from an ELF file without loading it: the
// header (class, byte order, type, machine), a section's bytes by name, and the exported dynamic
// symbols. Own code rather than boost::dll::library_info because library_info lists .symtab
// (gone once a plugin is stripped) and pairs it with whichever string table comes last; the
// dynamic linker only ever looks at .dynsym and its sh_link string table, so that is what we read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::runtime::detail {

class elf_image {
public:
  /// Reads `path` (at most `max_bytes`). nullopt with `*error` set when the file cannot be read
  /// or is not an ELF file at all ("not an ELF file (starts with ...)").
  static std::optional<elf_image> read(const std::string& path, std::string* error,
                                       std::size_t max_bytes = 256u << 20);

  /// Parses bytes already read (the loader's one read of the plugin's descriptor).
  static std::optional<elf_image> parse(std::string bytes, std::string* error);

  [[nodiscard]] bool is_64() const noexcept { return class_ == 2; }
  [[nodiscard]] bool little_endian() const noexcept { return data_ == 1; }
  [[nodiscard]] std::uint16_t type() const noexcept { return type_; }
  [[nodiscard]] std::uint16_t machine() const noexcept { return machine_; }

  /// The bytes of section `name`; nullopt when absent (or the section table is unreadable).
  [[nodiscard]] std::optional<std::string_view> section(std::string_view name) const;

  /// Names of defined, global or weak, default-visibility symbols of .dynsym.
  [[nodiscard]] std::vector<std::string> exported_symbols() const;

  /// "x86-64", "AArch64", ... or "machine 1234".
  static std::string machine_name(std::uint16_t machine);

  /// The ELF header of the running executable (what a plugin must match).
  static std::optional<elf_image> self(std::string* error);

private:
  struct section_info {
    std::string_view name;
    std::uint32_t type = 0;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    std::uint32_t link = 0;
    std::uint64_t entsize = 0;
  };
  [[nodiscard]] std::vector<section_info> sections() const;
  [[nodiscard]] std::uint64_t u(std::size_t off, std::size_t width) const noexcept;

  std::string bytes_;
  std::uint8_t class_ = 0;
  std::uint8_t data_ = 0;
  std::uint16_t type_ = 0;
  std::uint16_t machine_ = 0;
};

} // namespace pg::runtime::detail
