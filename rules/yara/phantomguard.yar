// SPDX-License-Identifier: Apache-2.0
/*
 * phantomguard.yar — the rule pack compiled into PhantomGuard (`rules = ["builtin:phantomguard"]`).
 *
 * Written for PhantomGuard by its authors; no rule text is taken from another rule set. Each
 * rule describes a technique documented in public threat reporting and named by its MITRE
 * ATT&CK id in `mitre_attack`. Licence: the project's. The pack is meant for the places
 * attackers drop tools (/tmp, /var/tmp, /dev/shm): its conditions are kept tight enough that the
 * system trees of a clean Debian host give no match (tests/yara/test_rule_pack.cpp checks
 * /usr/bin, /usr/sbin, /usr/lib and /etc), and every rule has a sample in that test.
 */

import "elf"

rule PG_Reverse_Shell_Script
{
  meta:
    description = "A script that connects a shell's standard streams to a network socket"
    severity = "high"
    mitre_attack = "T1059.004"
    author = "PhantomGuard"
  strings:
    $bash_tcp = /(ba)?sh -i\s*[>&0-9 ]*\/dev\/(tcp|udp)\/[0-9A-Za-z.\-]+\/[0-9]{1,5}/
    $exec_tcp = /exec [0-9]+<>\/dev\/tcp\//
    $nc_e = /\b(nc|ncat|netcat)(\.[a-z]+)? [^\n|;]{0,60}-(e|c) ?\/bin\/(ba)?sh/
    $fifo = /mkfifo [^\n;]{1,60}; *[^\n]{0,40}\/bin\/(ba)?sh -i[^\n]{0,40}\| *(nc|ncat|openssl s_client)/
    $socat = /socat [^\n]{0,80}exec:['"]?(\/bin\/)?(ba)?sh[^\n]{0,40}(pty|stderr)/ nocase
    $py_sock = "socket.socket(" ascii
    $py_dup = /os\.dup2\([^)]{1,40}fileno\(\)\s*,\s*[012]\)/
    $py_sh = /(pty\.spawn|subprocess\.call)\(\s*\[?["']\/bin\/(ba)?sh/
    $perl_sock = /socket\(S,\s*PF_INET/
    $perl_exec = /open\(STD(IN|OUT|ERR),\s*["']>&S["']\)/
  condition:
    filesize < 1MB and
    ($bash_tcp or $exec_tcp or $nc_e or $fifo or $socat or
     ($py_sock and $py_dup and $py_sh) or ($perl_sock and $perl_exec))
}

rule PG_PHP_Webshell
{
  meta:
    description = "PHP that evaluates or executes what a request sends"
    severity = "high"
    mitre_attack = "T1505.003"
    author = "PhantomGuard"
  strings:
    $php = "<?" ascii
    $exec = /\b(eval|assert|system|passthru|shell_exec|exec|popen|proc_open)\s*\(\s*(base64_decode\s*\(\s*|gzinflate\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)*\$_(GET|POST|REQUEST|COOKIE|SERVER\[['"]HTTP_)/ nocase
    $create = /create_function\s*\([^)]{0,80}\$_(GET|POST|REQUEST|COOKIE)/ nocase
    $preg_e = /preg_replace\s*\(\s*['"][^'"]{0,40}\/e['"]\s*,\s*\$_(GET|POST|REQUEST)/ nocase
  condition:
    filesize < 2MB and $php and ($exec or $create or $preg_e)
}

rule PG_Cryptominer
{
  meta:
    description = "A cryptocurrency miner or its configuration: pool protocol and miner options"
    severity = "high"
    mitre_attack = "T1496"
    author = "PhantomGuard"
  strings:
    $stratum = /stratum\+(tcp|ssl|tls):\/\/[0-9A-Za-z.\-]+:[0-9]{2,5}/
    $xmrig = "xmrig" nocase
    $donate = "donate-level" ascii
    $algo1 = "randomx" nocase
    $algo2 = "cryptonight" nocase
    $wallet = /\b4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b/
    $pool_key = /"(url|pools)"\s*:/
  condition:
    filesize < 32MB and
    (($stratum and 1 of ($xmrig, $donate, $algo1, $algo2, $wallet, $pool_key)) or
     ($xmrig and $donate and 1 of ($algo1, $algo2)))
}

rule PG_UPX_Packed_ELF
{
  meta:
    description = "An ELF executable packed with UPX: common for malware dropped in temp folders"
    severity = "medium"
    mitre_attack = "T1027.002"
    author = "PhantomGuard"
  strings:
    $upx = "UPX!" ascii
  condition:
    uint32(0) == 0x464c457f and $upx in (0..1024)
}

rule PG_Downloader_Pipe_To_Shell
{
  meta:
    description = "A script that downloads code and runs it straight from the network"
    severity = "medium"
    mitre_attack = "T1105"
    author = "PhantomGuard"
  strings:
    $curl = /\b(curl|wget)( -[A-Za-z-]+( [^ |\n]+)?){0,6} +['"]?(https?|ftp):\/\/[^\s'"|]+['"]? *\| *(sudo +)?(ba|da|z)?sh\b/
    $drop_run = /\b(curl|wget) [^\n]{0,120}(-o|-O) *\/(tmp|var\/tmp|dev\/shm)\/[^\s;&]+ *(;|&&) *chmod +(\+x|[0-7]?7[0-7][0-7]) +\/(tmp|var\/tmp|dev\/shm)\//
  condition:
    // A script (or a one-line file), not the installation notes of a README.
    filesize < 1MB and (uint16(0) == 0x2123 or filesize < 2KB) and ($curl or $drop_run)
}

rule PG_SSH_Key_Implant
{
  meta:
    description = "A script that appends a public key to authorized_keys"
    severity = "high"
    mitre_attack = "T1098.004"
    author = "PhantomGuard"
  strings:
    $append = /echo +['"]?(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp[0-9]+) AAAA[0-9A-Za-z+\/]{20,}[^\n]{0,200}>> *[^\n]{0,40}\.ssh\/authorized_keys/
    $chattr = /chattr \+[ia] [^\n]{0,40}\.ssh\/authorized_keys/
  condition:
    filesize < 1MB and ($append or $chattr)
}

rule PG_Preload_Hijack_Installer
{
  meta:
    description = "A script that installs a library into /etc/ld.so.preload (user-space rootkits)"
    severity = "critical"
    mitre_attack = "T1574.006"
    author = "PhantomGuard"
  strings:
    $write = /(echo|printf|cat)[^\n]{1,200}\.so[^\n]{0,40}> *\/etc\/ld\.so\.preload/
    $tee = /\.so[^\n]{0,60}\| *(sudo +)?tee( -a)? +\/etc\/ld\.so\.preload/
  condition:
    filesize < 1MB and ($write or $tee)
}

rule PG_Process_Hiding_Library
{
  meta:
    description = "A shared object that defines readdir and calls the real one through dlsym: an interposer that drops /proc entries (libprocesshider style)"
    severity = "critical"
    mitre_attack = "T1014"
    author = "PhantomGuard"
  strings:
    $proc = "/proc" ascii
  condition:
    uint32(0) == 0x464c457f and filesize < 4MB and elf.type == elf.ET_DYN and $proc and
    for any i in (0..elf.dynsym_entries - 1): (
      (elf.dynsym[i].name == "readdir" or elf.dynsym[i].name == "readdir64") and
      elf.dynsym[i].shndx != 0) and
    for any j in (0..elf.dynsym_entries - 1): (
      elf.dynsym[j].name == "dlsym" and elf.dynsym[j].shndx == 0)
}

rule PG_Log_Tampering_Script
{
  meta:
    description = "A script that wipes login records and shell history to hide activity"
    severity = "high"
    mitre_attack = "T1070.002"
    author = "PhantomGuard"
  strings:
    $wtmp = /(>|cat \/dev\/null *>|truncate -s *0|rm -f?) *\/var\/log\/(wtmp|btmp|lastlog)/
    $auth = /(>|cat \/dev\/null *>|truncate -s *0|rm -f?) *\/var\/log\/(auth\.log|secure|syslog)/
    $hist1 = "unset HISTFILE" ascii
    $hist2 = "history -c" ascii
    $hist3 = "HISTSIZE=0" ascii
    $hist4 = /ln -sf? \/dev\/null [^\n]{0,20}\.bash_history/
  condition:
    filesize < 1MB and ($wtmp or $auth) and 1 of ($hist*)
}

rule PG_Known_Linux_Malware_Names
{
  meta:
    description = "Names and markers of widespread Linux malware families (Kinsing, TeamTNT, Mirai)"
    severity = "critical"
    mitre_attack = "T1588.001"
    author = "PhantomGuard"
  strings:
    $kinsing = "kdevtmpfsi" ascii
    $kinsing2 = "kinsing" ascii fullword
    $tnt = "TeamTNT" ascii nocase
    $mirai1 = "/bin/busybox MIRAI" ascii
    $mirai2 = "MIRAI: applet not found" ascii
  condition:
    // In a program or a script, not in a note or a report that names the family.
    filesize < 32MB and (uint32(0) == 0x464c457f or uint16(0) == 0x2123) and any of them
}

rule PG_EICAR_Test_File
{
  meta:
    description = "The EICAR anti-malware test file: proves the pipeline end to end"
    severity = "low"
    mitre_attack = ""
    author = "PhantomGuard"
  strings:
    // As bytes, so that the engine's own binary does not carry the test string.
    $eicar = { 58 35 4F 21 50 25 40 41 50 5B 34 5C 50 5A 58 35 34 28 50 5E 29 37 43 43
               29 37 7D 24 45 49 43 41 52 2D 53 54 41 4E 44 41 52 44 2D 41 4E 54 49 56
               49 52 55 53 2D 54 45 53 54 2D 46 49 4C 45 21 24 48 2B 48 2A }
  condition:
    $eicar at 0
}
