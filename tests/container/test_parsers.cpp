// SPDX-License-Identifier: Apache-2.0
// Parsers of the live checks: cgroup paths of the container runtimes, mountinfo lines, secrets.
#include <catch2/catch.hpp>

#include "phantomguard/actors/container/live_container.hpp"
#include "phantomguard/actors/container/mountinfo.hpp"
#include "phantomguard/actors/container/secret_patterns.hpp"

using namespace pg::actors::container;

namespace {
const std::string id64 = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
}

SCENARIO("cgroup paths name the container runtime and id") {
  auto docker_v1 = container_from_cgroup("12:pids:/docker/" + id64 + "\n0::/\n");
  REQUIRE(docker_v1);
  CHECK(docker_v1->runtime == "docker");
  CHECK(docker_v1->id == id64);
  auto docker_scope = container_from_cgroup("0::/system.slice/docker-" + id64 + ".scope\n");
  REQUIRE(docker_scope);
  CHECK(docker_scope->runtime == "docker");
  auto kube = container_from_cgroup(
      "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/"
      "cri-containerd-" +
      id64 + ".scope\n");
  REQUIRE(kube);
  CHECK(kube->runtime == "kubepods");
  CHECK(kube->id == id64);
  auto kube_v1 = container_from_cgroup("4:memory:/kubepods/burstable/pod0a1b2c3d-1111-2222-3333-"
                                       "444455556666/" +
                                       id64 + "\n");
  REQUIRE(kube_v1);
  CHECK(kube_v1->runtime == "kubepods");
  auto podman = container_from_cgroup("0::/machine.slice/libpod-" + id64 + ".scope/container\n");
  REQUIRE(podman);
  CHECK(podman->runtime == "podman");
  auto libpod = container_from_cgroup("3:cpu:/libpod_parent/" + id64 + "\n");
  REQUIRE(libpod);
  CHECK(libpod->runtime == "podman");
  auto containerd = container_from_cgroup("0::/containerd/buildkit-worker\n");
  REQUIRE(containerd);
  CHECK(containerd->runtime == "containerd");
  CHECK(containerd->id == "buildkit-worker");
  CHECK_FALSE(container_from_cgroup("0::/user.slice/user-0.slice/session-1.scope\n"));
  CHECK_FALSE(container_from_cgroup("0::/system.slice/docker.service\n")); // the daemon itself
  CHECK_FALSE(container_from_cgroup("garbage without colons"));
}

SCENARIO("mountinfo lines are parsed with their optional fields and escapes") {
  std::size_t bad = 0;
  auto mounts = parse_mountinfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
      "66 43 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/docker/"
      "overlay2/abc/diff,workdir=/w\n"
      "70 66 0:5 /run/docker.sock /var/run/docker\\040x.sock rw - tmpfs tmpfs rw\n"
      "broken line\n",
      &bad);
  CHECK(bad == 1);
  REQUIRE(mounts.size() == 3);
  CHECK(mounts[0].root == "/mnt1");
  CHECK(mounts[0].mount_point == "/mnt2");
  CHECK(mounts[0].fstype == "ext3");
  CHECK(mounts[0].source == "/dev/root");
  CHECK(mount_option(mounts[1].super_options, "upperdir") == "/var/lib/docker/overlay2/abc/diff");
  CHECK(mount_option(mounts[1].super_options, "lowerdir") == "/l");
  CHECK(mounts[2].mount_point == "/var/run/docker x.sock");
  CHECK(has_mount_flag(mounts[0].options, "rw"));
  CHECK_FALSE(has_mount_flag(mounts[0].options, "ro"));
}

SCENARIO("secret patterns find credentials and leave look-alikes alone") {
  std::string body(200, 'A');
  for (std::size_t i = 0; i < body.size(); i += 64)
    body[i] = '\n';
  auto pem = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + body +
             "\n-----END OPENSSH PRIVATE KEY-----\n";
  auto hits = find_secrets(pem);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].pattern == "private_key");
  CHECK(hits[0].title == "OPENSSH private key");
  CHECK(hits[0].line == 2);
  CHECK(hits[0].redacted.find("AAAA") == std::string::npos); // the key body is never echoed

  CHECK(find_secrets("const char* h = \"-----BEGIN PRIVATE KEY-----\";\nint x;").empty());
  CHECK(find_secrets("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n").empty());

  auto aws = find_secrets("[default]\naws_access_key_id = AKIAZ2QW3ER4TY5UI6OP\n"
                          "aws_secret_access_key = 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\n");
  REQUIRE(aws.size() == 2);
  CHECK(aws[0].pattern == "aws_access_key_id");
  CHECK(aws[0].line == 2);
  CHECK(aws[1].pattern == "aws_secret_access_key");
  CHECK(aws[1].level == pg::runtime::severity::critical);

  auto gh = find_secrets("token: ghp_" + std::string(36, 'x') + "\n");
  REQUIRE(gh.size() == 1);
  CHECK(gh[0].pattern == "github_token");
  CHECK(find_secrets("ghp_short").empty());

  auto gcp = find_secrets("{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE "
                          "KEY-----\\nMIIE\\n\"}");
  REQUIRE(gcp.size() == 1);
  CHECK(gcp[0].pattern == "gcp_service_account_key");

  auto docker =
      find_secrets("{\"auths\": {\"registry.example\": {\"auth\": \"dXNlcjpwYXNzd29yZDEyMw==\"}}}");
  REQUIRE(docker.size() == 1);
  CHECK(docker[0].pattern == "docker_registry_auth");

  auto slack = find_secrets("SLACK=xoxb-123456789012-abcdefghijklmnop");
  REQUIRE(slack.size() == 1);
  CHECK(slack[0].pattern == "slack_token");
}
