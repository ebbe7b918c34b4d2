// SPDX-License-Identifier: Apache-2.0
// Keys, types, values and component types: every mistake reported at its FILE:LINE:COL.
#include <catch2/catch.hpp>

#include <algorithm>

#include "phantomguard/runtime/build_families.hpp"
#include "test_registry.hpp"

using namespace pg::runtime;
using namespace pg::test;
using namespace std::chrono_literals;

SCENARIO("a correct config loads into engine settings and components in file order") {
  GIVEN("engine settings and one component of each kind with runtime and type keys") {
    const auto reg = make_registry();
    const auto result = load_config_string(R"([engine]
log_level = "debug"
log_format = "json"
worker_threads = 4
shutdown_timeout = "3s"
strategy = "rest_for_one"
quota = { cpu_percent = 50, memory_mb = 128 }

[sources.tick]
type = "ticker"
count = 5
interval = "2s"

[analyzers.count]
type = "counter"
inputs = ["tick"]
threshold = 0.5
window = "10s"
mailbox = { window = 64, window_bytes = "1MiB", overflow = "drop_oldest" }
restart = { type = "transient", max_restarts = 3, period = "30s" }
quota = { events_per_second = 100, handler_timeout = "2s" }

[detectors.plug]
inputs = ["count"]
plugin = "libx.so"
config = { rules = ["a"] }

[sinks.out]
type = "store"
inputs = ["count", "tick", "plug"]
path = "/tmp/x"
schedule = "*/5 * * * *"
)",
                                           "t.toml", reg);
    THEN("there are no errors and every value is where it belongs") {
      REQUIRE(result.errors.empty());
      REQUIRE(result.ok());
      const auto& cfg = *result.config;
      CHECK(cfg.origin == "t.toml");
      CHECK(cfg.engine.log_level == "debug");
      CHECK(cfg.engine.log_fmt == log_format::json);
      CHECK(cfg.engine.worker_threads == 4);
      CHECK(cfg.engine.shutdown_timeout == 3s);
      CHECK(cfg.engine.strategy == restart_strategy::rest_for_one);
      CHECK(cfg.engine.quota.cpu_percent == Approx(50));
      CHECK(cfg.engine.quota.memory_mb == 128u);
      CHECK(cfg.engine.batch_size == 256u); // default kept

      REQUIRE(cfg.components.size() == 4);
      CHECK(cfg.components[0].name == "tick");
      CHECK(cfg.components[1].name == "count");
      CHECK(cfg.components[2].name == "plug");
      CHECK(cfg.components[3].name == "out");

      const auto& tick = cfg.components[0];
      CHECK(tick.kind == component_kind::source);
      CHECK(tick.type == "ticker");
      CHECK(tick.schedule.interval == duration(2s));
      CHECK(tick.settings.get_int("count") == 5);
      CHECK(tick.where.line == 9);
      CHECK(tick.where.column == 1);

      const auto& count = cfg.components[1];
      CHECK(count.inputs == std::vector<std::string>{"tick"});
      CHECK(count.mailbox.window_events == 64u);
      CHECK(count.mailbox.window_bytes == 1024u * 1024u);
      CHECK(count.mailbox.policy == overflow_policy::drop_oldest);
      CHECK(count.restart.type == restart_type::transient);
      CHECK(count.restart.max_restarts == 3u);
      CHECK(count.restart.period == 30s);
      CHECK(count.quota.events_per_second == Approx(100));
      CHECK(count.quota.handler_timeout == duration(2s));
      CHECK_FALSE(count.quota.cpu_percent);
      CHECK(count.settings.get_double("threshold") == Approx(0.5));
      CHECK(count.settings.get_duration("window", 0s) == 10s);
      // The runtime's own keys are not part of the type-specific settings.
      CHECK_FALSE(count.settings.contains("type"));
      CHECK_FALSE(count.settings.contains("inputs"));
      CHECK_FALSE(count.settings.contains("mailbox"));

      const auto& plug = cfg.components[2];
      CHECK(plug.kind == component_kind::detector);
      CHECK(plug.type == "plugin"); // the default for detectors
      CHECK(plug.settings.get_string("plugin") == "libx.so");
      CHECK(plug.settings.table()["config"]["rules"][0].value_or(std::string()) == "a");

      const auto& out = cfg.components[3];
      CHECK(out.kind == component_kind::sink);
      CHECK(out.inputs == std::vector<std::string>{"count", "tick", "plug"});
      CHECK(out.schedule.cron == "*/5 * * * *");
    }
  }
  GIVEN("an empty file") {
    THEN("it is a valid config with defaults and no components") {
      const auto reg = make_registry();
      auto r = load_config_string("", "t.toml", reg);
      REQUIRE(r.ok());
      CHECK(r.config->components.empty());
      CHECK(r.config->engine == engine_settings{});
    }
  }
}

SCENARIO("a sink's relative path is written under [engine] log_dir, and run_dir holds the socket") {
  const auto reg = make_registry();
  const auto load = [&reg](const std::string& engine) {
    auto r = load_config_string(engine + R"(
[sources.tick]
type = "ticker"
[sinks.rel]
type = "store"
inputs = ["tick"]
path = "findings.jsonl"
[sinks.abs]
type = "store"
inputs = ["tick"]
path = "/srv/archive/x.jsonl"
)",
                                "t.toml", reg);
    REQUIRE(r.ok());
    return *r.config;
  };
  const auto path_of = [](const pipeline_config& c, const std::string& name) {
    for (const auto& d : c.components)
      if (d.name == name)
        return d.settings.get_string("path");
    return std::string("(no such component)");
  };
  WHEN("log_dir and run_dir are set") {
    const auto cfg = load(
        "[engine]\nstate_dir = \"/data/pg\"\nlog_dir = \"/srv/logs\"\nrun_dir = \"/run/pg\"\n");
    THEN("the relative path is under log_dir, the absolute one stays, the socket is in run_dir") {
      CHECK(path_of(cfg, "rel") == "/srv/logs/findings.jsonl");
      CHECK(path_of(cfg, "abs") == "/srv/archive/x.jsonl");
      CHECK(cfg.engine.run_folder() == "/run/pg");
    }
  }
  WHEN("neither is set") {
    const auto cfg = load("[engine]\nstate_dir = \"/data/pg\"\n");
    THEN("log_dir is /var/log/phantomguard and the socket stays in state_dir") {
      CHECK(path_of(cfg, "rel") == "/var/log/phantomguard/findings.jsonl");
      CHECK(cfg.engine.run_folder() == "/data/pg");
    }
  }
  WHEN("log_dir is empty") {
    const auto cfg = load("[engine]\nlog_dir = \"\"\n");
    THEN("a relative path stays relative to the working folder") {
      CHECK(path_of(cfg, "rel") == "findings.jsonl");
    }
  }
  WHEN("they have the wrong type") {
    CHECK(errors_of("[engine]\nlog_dir = 5\nrun_dir = [\"/run\"]\n") ==
          lines{"t.toml:2:11: 'log_dir' in [engine] must be a string, not an integer",
                "t.toml:3:11: 'run_dir' in [engine] must be a string, not an array"});
  }
}

SCENARIO("a syntax error is reported at its own position") {
  WHEN("a value is missing") {
    THEN("toml++'s description comes with the line and column") {
      CHECK(errors_of("[engine]\nlog_level = \"info\"\nworker_threads = \n") ==
            lines{"t.toml:3:18: syntax error: Error while parsing key-value pair: expected "
                  "value, saw '\\n'"});
    }
  }
  WHEN("a table is declared twice") {
    THEN("the second header is blamed") {
      CHECK(errors_of("[sources.a]\ntype = \"ticker\"\n[sources.a]\n") ==
            lines{"t.toml:3:1: syntax error: Error while parsing table header: cannot redefine "
                  "existing table 'sources.a'"});
    }
  }
}

SCENARIO("unknown keys are reported with a suggestion") {
  GIVEN("a top-level key outside any section") {
    THEN("it is an unknown key, not a section; an engine key is sent to [engine]") {
      CHECK(errors_of("colour = \"red\"\n[engine]\n") ==
            lines{"t.toml:1:1: unknown key 'colour' (sections: engine, sources, analyzers, "
                  "detectors, sinks, supervisors, api, alerts, suppress)"});
      CHECK(errors_of("log_level = \"info\"\n[engine]\n") ==
            lines{"t.toml:1:1: 'log_level' is an engine setting: put it under [engine]"});
    }
  }
  GIVEN("misspelt engine keys") {
    THEN("each gets its closest known key, unless none is close") {
      CHECK(errors_of(R"([engine]
log_levl = "info"
worker_thread = 2
colour = "red"
)") == lines{
           "t.toml:2:1: unknown key 'log_levl' in [engine]; did you mean 'log_level'?",
           "t.toml:3:1: unknown key 'worker_thread' in [engine]; did you mean 'worker_threads'?",
           "t.toml:4:1: unknown key 'colour' in [engine]",
       });
    }
  }
  GIVEN("misspelt section names") {
    THEN("the section is suggested") {
      CHECK(errors_of(R"([sourcs.tick]
type = "ticker"
[sink.out]
type = "store"
[enigne]
)") == lines{
           "t.toml:1:2: unknown section 'sourcs'; did you mean 'sources'? (sections: engine, "
           "sources, analyzers, detectors, sinks, supervisors, api, alerts, suppress)",
           "t.toml:3:2: unknown section 'sink'; did you mean 'sinks'? (sections: engine, "
           "sources, analyzers, detectors, sinks, supervisors, api, alerts, suppress)",
           "t.toml:5:2: unknown section 'enigne'; did you mean 'engine'? (sections: engine, "
           "sources, analyzers, detectors, sinks, supervisors, api, alerts, suppress)",
       });
    }
  }
  GIVEN("misspelt component keys, type-specific and common, nested ones too") {
    THEN("each is checked against the type's options and the common keys") {
      CHECK(errors_of(R"([sources.tick]
type = "ticker"
cont = 3
intervall = "5s"
mailbox = { windw = 3 }
restart = { max_restart = 1 }
quota = { memory = 5 }
)") == lines{
           "t.toml:3:1: unknown key 'cont' in [sources.tick]; did you mean 'count'?",
           "t.toml:4:1: unknown key 'intervall' in [sources.tick]; did you mean 'interval'?",
           "t.toml:5:13: unknown key 'windw' in [sources.tick.mailbox]; did you mean 'window'?",
           "t.toml:6:13: unknown key 'max_restart' in [sources.tick.restart]; did you mean "
           "'max_restarts'?",
           "t.toml:7:11: unknown key 'memory' in [sources.tick.quota]",
       });
    }
  }
}

SCENARIO("values of the wrong type are reported with what was expected") {
  THEN("engine keys, common keys and type options alike") {
    CHECK(errors_of(R"([engine]
worker_threads = "4"
shutdown_timeout = 10
[sources.tick]
type = "ticker"
enabled = "yes"
label = 7
[analyzers.c]
type = "counter"
inputs = "tick"
paths = ["/a", 3]
threshold = true
extra = 1
)") == lines{
           "t.toml:2:18: 'worker_threads' in [engine] must be a whole number or \"auto\", not '4'",
           "t.toml:3:20: 'shutdown_timeout' in [engine] must be a duration string such as "
           "\"10s\", not an integer",
           "t.toml:6:11: 'enabled' in [sources.tick] must be a boolean (true or false), not a "
           "string",
           "t.toml:7:9: 'label' in [sources.tick] must be a string, not an integer",
           "t.toml:10:10: 'inputs' in [analyzers.c] must be a list of strings, not a string",
           "t.toml:11:16: 'paths' in [analyzers.c] must be a list of strings; element 2 is an "
           "integer",
           "t.toml:12:13: 'threshold' in [analyzers.c] must be a number, not a boolean",
           "t.toml:13:9: 'extra' in [analyzers.c] must be a table or an array of tables, not an "
           "integer",
       });
  }
  THEN("a section or component that is not a table") {
    CHECK(errors_of("engine = 1\n") ==
          lines{"t.toml:1:10: 'engine' must be a table ([engine]), not an integer"});
    CHECK(errors_of("sources = 3\n") ==
          lines{"t.toml:1:11: 'sources' must be a table of [sources.NAME] tables, not an integer"});
    CHECK(errors_of("[sources]\ntick = 3\n") ==
          lines{"t.toml:2:8: 'sources.tick' must be a table ([sources.tick]), not an integer"});
  }
}

SCENARIO("durations and sizes must carry valid units") {
  THEN("a bad unit is explained with an example") {
    CHECK(errors_of(R"([engine]
tick_interval = "10 parsecs"
[analyzers.c]
type = "counter"
limit = "4 megs"
mailbox = { window_bytes = -5 }
)") == lines{
           "t.toml:2:17: 'tick_interval' in [engine] is not a valid duration: '10 parsecs' (use "
           "a number and a unit: ns, us, ms, s, m, h, d; e.g. \"10s\")",
           "t.toml:5:9: 'limit' in [analyzers.c] is not a valid size: '4 megs' (use bytes or a "
           "unit: KiB, MiB, GiB, KB, MB, GB; e.g. \"64MiB\")",
           "t.toml:6:28: 'window_bytes' in [analyzers.c.mailbox] must not be negative (got -5)",
       });
  }
}

SCENARIO("values out of range name the allowed range in the value's own unit") {
  THEN("integers, floats, durations and sizes") {
    CHECK(errors_of(R"([engine]
worker_threads = 0
[sources.tick]
type = "ticker"
count = 5000
[analyzers.c]
type = "counter"
threshold = 1.5
window = "500ms"
limit = "2GiB"
quota = { cpu_percent = 0 }
restart = { backoff = "10s", max_backoff = "1s" }
)") == lines{
           "t.toml:2:18: 'worker_threads' in [engine] must be between 1 and 256 (got 0)",
           "t.toml:5:9: 'count' in [sources.tick] must be between 1 and 1000 (got 5000)",
           "t.toml:8:13: 'threshold' in [analyzers.c] must be between 0 and 1 (got 1.5)",
           "t.toml:9:10: 'window' in [analyzers.c] must be at least 1s (got '500ms')",
           "t.toml:10:9: 'limit' in [analyzers.c] must be at most 1GiB (got '2GiB')",
           "t.toml:11:25: 'cpu_percent' in [analyzers.c.quota] must be between 0.1 and 10000 "
           "(got 0)",
           "t.toml:12:44: 'max_backoff' in [analyzers.c.restart] (1s) must not be shorter than "
           "'backoff' (10s)",
       });
  }
}

SCENARIO("strings with a fixed set of values list the choices") {
  THEN("and suggest the closest") {
    CHECK(errors_of(R"([engine]
log_format = "xml"
strategy = "one_for_al"
[sources.tick]
type = "ticker"
[sinks.c]
type = "console"
inputs = ["tick"]
format = "jsn"
mailbox = { overflow = "drop" }
)") == lines{
           "t.toml:2:14: 'log_format' in [engine] must be one of 'text', 'json' (got 'xml')",
           "t.toml:3:12: 'strategy' in [engine] must be one of 'one_for_one', 'one_for_all', "
           "'rest_for_one' (got 'one_for_al'); did you mean 'one_for_all'?",
           "t.toml:9:10: 'format' in [sinks.c] must be one of 'table', 'json', 'jsonl' (got "
           "'jsn'); did you mean 'json'?",
           "t.toml:10:24: 'overflow' in [sinks.c.mailbox] must be one of 'block', "
           "'drop_oldest', 'drop_newest', 'sample' (got 'drop')",
       });
  }
}

SCENARIO("required keys are reported at the component's header") {
  THEN("a missing type and a missing type option") {
    CHECK(errors_of(R"([sources.tick]
count = 3
[sinks.out]
type = "store"
inputs = ["tick"]
)") == lines{
           "t.toml:1:1: [sources.tick] is missing required key 'type'",
           "t.toml:3:1: [sinks.out] is missing required key 'path'",
       });
  }
}

SCENARIO("component types are looked up by kind") {
  THEN("an unknown type gets a suggestion and the list of known ones") {
    CHECK(errors_of(R"([sources.tick]
type = "tickr"
[analyzers.a]
type = "console"
[detectors.d]
type = "yara"
)") == lines{
           "t.toml:2:8: unknown source type 'tickr' in [sources.tick]; did you mean 'ticker'? "
           "(known source types: ticker)",
           "t.toml:4:8: 'console' in [analyzers.a] is a sink type, not an analyzer type: "
           "declare it as [sinks.NAME]",
           "t.toml:6:8: unknown detector type 'yara' in [detectors.d] (known detector types: "
           "plugin)",
       });
  }
  THEN("a type that is not a string is a type error") {
    CHECK(errors_of("[sources.tick]\ntype = 3\n") ==
          lines{"t.toml:2:8: 'type' in [sources.tick] must be a string, not an integer"});
  }
}

SCENARIO("detectors are plugins unless they name another type") {
  const char* cfg = R"([sources.tick]
type = "ticker"
[detectors.d]
inputs = ["tick"]
plugin = "libx.so"
isolation = "sandbx"
)";
  GIVEN("a build with the plugin host") {
    THEN("the plugin options are checked") {
      CHECK(errors_of(cfg) ==
            lines{"t.toml:6:13: 'isolation' in [detectors.d] must be one of 'in_process', "
                  "'sandbox' (got 'sandbx'); did you mean 'sandbox'?"});
      CHECK(errors_of("[detectors.d]\n") ==
            lines{"t.toml:1:1: [detectors.d] is missing required key 'plugin'"});
    }
  }
  GIVEN("a build without the plugin host") {
    THEN("the operator is told that plugin detectors are not available") {
      CHECK(errors_of(cfg, false) ==
            lines{"t.toml:3:1: [detectors.d] has no 'type', so it is a plugin detector, but "
                  "detector type 'plugin' is not available in this build (no plugin host "
                  "registered it) and no detector types are registered"});
      CHECK(errors_of("[detectors.d]\ntype = \"plugin\"\nplugin = \"x.so\"\n", false) ==
            lines{"t.toml:2:8: detector type 'plugin' is not available in this build (no plugin "
                  "host registered it), so [detectors.d] cannot load a plugin (no detector types "
                  "are registered)"});
    }
  }
}

SCENARIO("schedules are cron expressions or intervals, not both") {
  THEN("a bad cron expression and a double schedule are reported") {
    CHECK(errors_of(R"([sources.tick]
type = "ticker"
schedule = "61 * * * *"
[analyzers.c]
type = "counter"
interval = "5s"
schedule = "0 2 * * *"
)") == lines{
           "t.toml:3:12: 'schedule' in [sources.tick] is not a valid cron expression '61 * * "
           "* *': minute: '61' is outside 0-59",
           "t.toml:7:12: 'interval' and 'schedule' in [analyzers.c] exclude each other: keep "
           "one",
       });
  }
}

SCENARIO("component names are identifiers") {
  THEN("a quoted name with a space is refused") {
    CHECK(
        errors_of("[sources.\"a b\"]\ntype = \"ticker\"\n") ==
        lines{"t.toml:1:10: invalid component name 'a b': use letters, digits, '_' and '-' only"});
  }
}

SCENARIO("the config file is read from disk") {
  WHEN("the file does not exist") {
    THEN("the error names the file and the reason") {
      auto r = load_config_file("/nonexistent/pg.toml", make_registry());
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].to_string() ==
            "/nonexistent/pg.toml: cannot read the config file: No such file or directory");
      CHECK_FALSE(r.ok());
    }
  }
  WHEN("the path is a directory") {
    THEN("it says so") {
      auto r = load_config_file("/tmp", make_registry());
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].to_string() == "/tmp: cannot read the config file: it is a directory");
    }
  }
}

SCENARIO("a type of a family this binary was built without is named as such") {
  // As register_builtin() records them for a build with -DPG_FAMILY_YARA=OFF.
  add_left_out("leftout_scanner", "leftout");
  const auto reg = make_registry();
  GIVEN("an enabled component of that type") {
    const auto result = load_config_string(R"([sources.tick]
type = "ticker"

[analyzers.scan]
type = "leftout_scanner"
inputs = ["tick"]
)",
                                           "t.toml", reg);
    THEN("the config is refused with the family and the CMake option, at the type's position") {
      REQUIRE_FALSE(result.ok());
      REQUIRE(result.errors.size() == 1);
      CHECK(result.errors[0].to_string() ==
            "t.toml:5:8: 'leftout_scanner' is not in this build: it belongs to the leftout family, "
            "which this binary was built without (CMake option PG_FAMILY_LEFTOUT=OFF, "
            "docs/build.md): [analyzers.scan] cannot run here; set enabled = false or remove it");
    }
  }
  GIVEN("the same component disabled, and a sink that names it as an input") {
    const auto result = load_config_string(R"([sources.tick]
type = "ticker"

[analyzers.scan]
type = "leftout_scanner"
enabled = false
inputs = ["tick"]
anything = "its options cannot be checked without its type"

[sinks.out]
type = "store"
path = "/tmp/x"
inputs = ["tick", "scan"]
)",
                                           "t.toml", reg);
    THEN("it loads: the declaration is kept, disabled, and its name still resolves") {
      INFO((result.errors.empty() ? std::string() : result.errors[0].to_string()));
      REQUIRE(result.ok());
      const auto& comps = result.config->components;
      auto it =
          std::find_if(comps.begin(), comps.end(), [](const auto& c) { return c.name == "scan"; });
      REQUIRE(it != comps.end());
      CHECK_FALSE(it->enabled);
    }
  }
  GIVEN("a type that belongs to no family") {
    const auto result =
        load_config_string("[analyzers.scan]\ntype = \"leftout_scannr\"\n", "t.toml", reg);
    THEN("it is an unknown type as before") {
      REQUIRE(result.errors.size() == 1);
      CHECK(result.errors[0].to_string().find("unknown analyzer type 'leftout_scannr'") !=
            std::string::npos);
    }
  }
}
