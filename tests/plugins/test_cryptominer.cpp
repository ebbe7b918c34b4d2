// SPDX-License-Identifier: Apache-2.0
// plugins/cryptominer: process events in, miner.* findings out.
#include <catch2/catch.hpp>

#include "phantomguard/runtime/refusal.hpp"
#include "plugin_driver.hpp"

using pg::test::plugin_driver;
using pg::test::process;

SCENARIO("the crypto-miner plugin finds miners by name, URL, pool and flags", "[plugins][miner]") {
  plugin_driver d("cryptominer.so");
  WHEN("xmrig runs under its own name") {
    d.feed({process(4242, "xmrig", "/home/u/.cache/xmrig", "./xmrig -c config.json")});
    THEN("a high miner.known_binary finding names the process") {
      REQUIRE(d.ctx.findings.size() == 1);
      const auto& f = d.ctx.findings[0];
      CHECK(f.rule == "miner.known_binary");
      CHECK(f.level == pg::runtime::severity::high);
      CHECK(f.entity["pid"] == 4242);
      CHECK(f.entity["exe"] == "/home/u/.cache/xmrig");
      CHECK(f.evidence["indicator"] == "xmrig");
      CHECK(f.evidence["uid"] == 1000);
      CHECK(f.mitre == std::vector<std::string>{"T1496"});
    }
  }
  WHEN("a renamed miner connects to a stratum URL") {
    d.feed({process(77, "kworker/0:1", "/tmp/.k",
                    "/tmp/.k -o stratum+tcp://203.0.113.7:3333 -u wallet -p x")});
    THEN("miner.stratum_url") {
      REQUIRE(d.ctx.findings.size() == 1);
      CHECK(d.ctx.findings[0].rule == "miner.stratum_url");
      CHECK(d.ctx.findings[0].evidence["indicator"] == "stratum+tcp://");
    }
  }
  WHEN("a process names a known pool") {
    d.feed(
        {process(78, "syslogd", "/usr/bin/.s", "/usr/bin/.s --url gulf.moneroocean.stream:10128")});
    THEN("miner.pool_domain") {
      REQUIRE(d.ctx.findings.size() == 1);
      CHECK(d.ctx.findings[0].rule == "miner.pool_domain");
    }
  }
  WHEN("a process runs with two miner flags") {
    d.feed({process(79, "helper", "/opt/h", "/opt/h --donate-level 1 --randomx-1gb-pages")});
    THEN("a medium miner.mining_flags finding") {
      REQUIRE(d.ctx.findings.size() == 1);
      CHECK(d.ctx.findings[0].rule == "miner.mining_flags");
      CHECK(d.ctx.findings[0].level == pg::runtime::severity::medium);
      CHECK(d.ctx.findings[0].evidence["indicator"] == "--donate-level --randomx");
    }
  }
  WHEN("ordinary processes run") {
    d.feed({process(1, "systemd", "/usr/lib/systemd/systemd", "/sbin/init"),
            process(2, "bash", "/usr/bin/bash", "-bash"),
            process(3, "python3", "/usr/bin/python3.11", "python3 -m http.server 8000"),
            process(4, "sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener]")});
    THEN("nothing is reported") {
      CHECK(d.ctx.findings.empty());
    }
  }
  WHEN("the same miner appears in every procfs snapshot") {
    for (int i = 0; i < 3; ++i)
      d.feed({process(4242, "xmrig", "/usr/local/bin/xmrig", "xmrig")});
    THEN("it is reported once") {
      CHECK(d.ctx.findings.size() == 1);
    }
    AND_WHEN("the detector restarts with its snapshot") {
      const std::string state = d.component().snapshot();
      plugin_driver again("cryptominer.so");
      again.component().restore(state);
      again.feed({process(4242, "xmrig", "/usr/local/bin/xmrig", "xmrig"),
                  process(4243, "xmrig", "/usr/local/bin/xmrig", "xmrig")});
      THEN("only the new process is reported") {
        REQUIRE(again.ctx.findings.size() == 1);
        CHECK(again.ctx.findings[0].entity["pid"] == 4243);
      }
    }
    AND_WHEN("the timer fires") {
      d.component().on_tick(d.ctx);
      THEN("the plugin's metrics arrive as counters and gauges") {
        CHECK(d.ctx.counters["miner_events"] == 3);
        CHECK(d.ctx.counters["miner_findings"] == 1);
        CHECK(d.ctx.gauges["miner_tracked"] == 1);
      }
    }
  }
  WHEN("process_exit and socket events arrive") {
    auto exit = process(4242, "xmrig", "/x/xmrig", "xmrig", "process_exit");
    auto sock = process(4242, "xmrig", "/x/xmrig", "xmrig", "socket");
    d.feed({exit, sock});
    THEN("they are not subscribed and never reach the plugin") {
      CHECK(d.ctx.findings.empty());
    }
  }
}

SCENARIO("the crypto-miner plugin's config changes what it reports", "[plugins][miner]") {
  WHEN("an extra name is configured") {
    toml::table cfg;
    toml::array names;
    names.push_back("mysterious-miner");
    cfg.insert("extra_names", names);
    plugin_driver d("cryptominer.so", cfg);
    d.feed({process(5, "mysterious-mine", "/srv/mysterious-miner", "/srv/mysterious-miner")});
    THEN("it is a known binary") {
      REQUIRE(d.ctx.findings.size() == 1);
      CHECK(d.ctx.findings[0].evidence["indicator"] == "mysterious-miner");
    }
  }
  WHEN("a sanctioned miner is allowed") {
    toml::table cfg;
    toml::array allow;
    allow.push_back("/opt/lab/xmrig");
    cfg.insert("allow_exe", allow);
    plugin_driver d("cryptominer.so", cfg);
    d.feed({process(6, "xmrig", "/opt/lab/xmrig", "xmrig"),
            process(7, "xmrig", "/tmp/xmrig", "xmrig")});
    THEN("only the other one is reported") {
      REQUIRE(d.ctx.findings.size() == 1);
      CHECK(d.ctx.findings[0].entity["exe"] == "/tmp/xmrig");
    }
  }
  WHEN("three flags are required") {
    toml::table cfg;
    cfg.insert("min_flags", 3);
    plugin_driver d("cryptominer.so", cfg);
    d.feed({process(79, "helper", "/opt/h", "/opt/h --donate-level 1 --randomx-1gb-pages")});
    THEN("two flags are not enough") {
      CHECK(d.ctx.findings.empty());
    }
  }
  WHEN("max_tracked is not positive") {
    toml::table cfg;
    cfg.insert("max_tracked", 0);
    THEN("the plugin rejects its config and the engine refuses the detector") {
      CHECK_THROWS_MATCHES(plugin_driver("cryptominer.so", cfg), pg::runtime::component_refused,
                           Catch::Message("plugin \"org.phantomguard.cryptominer\" detector "
                                          "\"cryptominer\" (" PG_PLUGIN_BUILD_DIR
                                          "/cryptominer.so) failed in create (code 2): "
                                          "max_tracked must be positive; fix: correct the "
                                          "detector's config"));
    }
  }
}
