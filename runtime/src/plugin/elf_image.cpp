// SPDX-License-Identifier: Apache-2.0
// elf_image.cpp — a bounds-checked ELF reader (32/64-bit, either byte order) for load-time checks.
#include "plugin/elf_image.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace pg::runtime::detail {
namespace {
constexpr std::uint32_t sht_dynsym = 11;
} // namespace

std::uint64_t elf_image::u(std::size_t off, std::size_t width) const noexcept {
  if (off + width > bytes_.size() || off + width < off)
    return 0;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const auto byte =
        static_cast<std::uint8_t>(bytes_[off + (little_endian() ? width - 1 - i : i)]);
    v = (v << 8) | byte;
  }
  return v;
}

std::optional<elf_image> elf_image::read(const std::string& path, std::string* error,
                                         std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error)
      *error = "cannot open the file";
    return std::nullopt;
  }
  std::string bytes;
  // Size the buffer from the file, not from the cap: a 100 KiB plugin needs 100 KiB.
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
  in.seekg(0, std::ios::beg);
  bytes.resize(std::min(size, max_bytes));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return parse(std::move(bytes), error);
}

std::optional<elf_image> elf_image::parse(std::string bytes, std::string* error) {
  elf_image img;
  img.bytes_ = std::move(bytes);
  if (img.bytes_.size() < 52 || img.bytes_.compare(0, 4,
                                                   "\x7f"
                                                   "ELF") != 0) {
    if (error) {
      std::string head;
      for (std::size_t i = 0; i < img.bytes_.size() && i < 4; ++i) {
        const unsigned char c = static_cast<unsigned char>(img.bytes_[i]);
        head += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c))
                                        : "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) +
                                              "0123456789abcdef"[c & 15];
      }
      *error = "not an ELF file (starts with \"" + head + "\")";
    }
    return std::nullopt;
  }
  img.class_ = static_cast<std::uint8_t>(img.bytes_[4]);
  img.data_ = static_cast<std::uint8_t>(img.bytes_[5]);
  if ((img.class_ != 1 && img.class_ != 2) || (img.data_ != 1 && img.data_ != 2)) {
    if (error)
      *error = "corrupt ELF header (class/byte order)";
    return std::nullopt;
  }
  img.type_ = static_cast<std::uint16_t>(img.u(16, 2));
  img.machine_ = static_cast<std::uint16_t>(img.u(18, 2));
  return img;
}

std::optional<elf_image> elf_image::self(std::string* error) {
  return read("/proc/self/exe", error, 64);
}

std::string elf_image::machine_name(std::uint16_t m) {
  switch (m) {
  case 3:
    return "x86 (i386)";
  case 8:
    return "MIPS";
  case 20:
    return "PowerPC";
  case 21:
    return "PowerPC64";
  case 22:
    return "S/390";
  case 40:
    return "ARM";
  case 62:
    return "x86-64";
  case 183:
    return "AArch64";
  case 243:
    return "RISC-V";
  case 258:
    return "LoongArch";
  default:
    return "machine " + std::to_string(m);
  }
}

std::vector<elf_image::section_info> elf_image::sections() const {
  std::vector<section_info> out;
  const bool b64 = is_64();
  const std::uint64_t shoff = b64 ? u(0x28, 8) : u(0x20, 4);
  const std::uint64_t shentsize = b64 ? u(0x3a, 2) : u(0x2e, 2);
  const std::uint64_t shnum = b64 ? u(0x3c, 2) : u(0x30, 2);
  const std::uint64_t shstrndx = b64 ? u(0x3e, 2) : u(0x32, 2);
  // shoff comes from the file: compared without an addition that could wrap around.
  if (shoff == 0 || shnum == 0 || shentsize < (b64 ? 64u : 40u) || shoff > bytes_.size() ||
      shnum * shentsize > bytes_.size() - shoff || shstrndx >= shnum)
    return out;
  auto at = [&](std::uint64_t i) {
    const std::size_t base = static_cast<std::size_t>(shoff + i * shentsize);
    section_info s;
    const std::uint64_t name = u(base, 4);
    s.type = static_cast<std::uint32_t>(u(base + 4, 4));
    s.offset = b64 ? u(base + 0x18, 8) : u(base + 0x10, 4);
    s.size = b64 ? u(base + 0x20, 8) : u(base + 0x14, 4);
    s.link = static_cast<std::uint32_t>(b64 ? u(base + 0x28, 4) : u(base + 0x18, 4));
    s.entsize = b64 ? u(base + 0x38, 8) : u(base + 0x24, 4);
    return std::pair{name, s};
  };
  auto names = at(shstrndx).second;
  // The section-name table is read like any other section: only the bytes inside the file.
  if (names.offset > bytes_.size() || names.size > bytes_.size() - names.offset)
    names.size = 0;
  for (std::uint64_t i = 0; i < shnum; ++i) {
    auto [name_off, s] = at(i);
    // Nobits sections (.bss) have no file bytes; everything else must lie inside the file. A
    // section that does not is kept (its name still counts) but holds nothing.
    if (s.type != 8 && (s.offset > bytes_.size() || s.size > bytes_.size() - s.offset)) {
      s.offset = 0;
      s.size = 0;
    }
    if (name_off < names.size) { // then offset + name_off lies inside the file (no overflow)
      const char* p = bytes_.data() + names.offset + name_off;
      const std::size_t max = static_cast<std::size_t>(names.size - name_off);
      std::size_t n = 0;
      while (n < max && p[n] != '\0')
        ++n;
      s.name = std::string_view(p, n);
    }
    out.push_back(s);
  }
  return out;
}

std::optional<std::string_view> elf_image::section(std::string_view name) const {
  for (const auto& s : sections())
    if (s.name == name && s.type != 8)
      return std::string_view(bytes_.data() + s.offset, static_cast<std::size_t>(s.size));
  return std::nullopt;
}

std::vector<std::string> elf_image::exported_symbols() const {
  std::vector<std::string> out;
  const auto all = sections();
  for (const auto& s : all) {
    if (s.type != sht_dynsym || s.link >= all.size())
      continue;
    const auto& strtab = all[s.link];
    if (strtab.type == 8)
      continue; // a string table without file bytes (a hostile link): nothing to read
    const std::size_t entsize = is_64() ? 24 : 16;
    for (std::uint64_t off = s.offset; off + entsize <= s.offset + s.size; off += entsize) {
      const std::size_t o = static_cast<std::size_t>(off);
      const std::uint64_t name = u(o, 4);
      const std::uint8_t info = static_cast<std::uint8_t>(u(o + (is_64() ? 4 : 12), 1));
      const std::uint8_t other = static_cast<std::uint8_t>(u(o + (is_64() ? 5 : 13), 1));
      const std::uint64_t shndx = u(o + (is_64() ? 6 : 14), 2);
      const int bind = info >> 4;
      if (shndx == 0 || (bind != 1 && bind != 2) || (other & 3) != 0 || name >= strtab.size)
        continue; // undefined, local, or not default visibility
      const char* p = bytes_.data() + strtab.offset + name;
      const std::size_t max = static_cast<std::size_t>(strtab.size - name);
      std::size_t n = 0;
      while (n < max && p[n] != '\0')
        ++n;
      if (n > 0)
        out.emplace_back(p, n);
    }
  }
  return out;
}

} // namespace pg::runtime::detail
