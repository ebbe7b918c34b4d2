// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/proc_connector.hpp"

#include <cerrno>
#include <cstring>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pg::actors::realtime {

namespace {

bool send_op(int fd, proc_cn_mcast_op op) {
  alignas(NLMSG_ALIGNTO) char buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(op))] = {};
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
  nlh->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(op));
  nlh->nlmsg_type = NLMSG_DONE;
  nlh->nlmsg_pid = 0;
  auto* msg = reinterpret_cast<cn_msg*>(NLMSG_DATA(nlh));
  msg->id.idx = CN_IDX_PROC;
  msg->id.val = CN_VAL_PROC;
  msg->len = sizeof(op);
  std::memcpy(msg->data, &op, sizeof(op));
  return ::send(fd, buf, nlh->nlmsg_len, 0) >= 0;
}

} // namespace

std::optional<proc_connector> proc_connector::open(int* err) {
  int fd = ::socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (fd < 0) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  proc_connector pc(fd);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  sa.nl_pid = 0; // let the kernel pick a unique port id (several listeners per process)
  // A bigger receive buffer rides out bursts (fork bombs, builds) without ENOBUFS.
  int rcvbuf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      !send_op(fd, PROC_CN_MCAST_LISTEN)) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  return pc;
}

proc_connector::proc_connector(proc_connector&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

proc_connector& proc_connector::operator=(proc_connector&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

proc_connector::~proc_connector() {
  close();
}

void proc_connector::close() noexcept {
  if (fd_ >= 0) {
    send_op(fd_, PROC_CN_MCAST_IGNORE);
    ::close(fd_);
    fd_ = -1;
  }
}

bool proc_connector::read(std::vector<proc_connector_event>& out, std::uint64_t* overruns) {
  alignas(nlmsghdr) char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      return true;
    if (errno == ENOBUFS) {
      if (overruns)
        ++*overruns;
      return true;
    }
    return false;
  }
  auto len = static_cast<unsigned>(n);
  for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nlh, len);
       nlh = NLMSG_NEXT(nlh, len)) {
    if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_NOOP)
      continue;
    auto* msg = reinterpret_cast<cn_msg*>(NLMSG_DATA(nlh));
    if (msg->id.idx != CN_IDX_PROC || msg->id.val != CN_VAL_PROC)
      continue;
    proc_event ev{};
    std::memcpy(&ev, msg->data, std::min<std::size_t>(msg->len, sizeof ev));
    proc_connector_event e;
    switch (ev.what) {
    case proc_event::PROC_EVENT_FORK:
      e.what = proc_connector_event::kind::fork;
      e.pid = ev.event_data.fork.child_pid;
      e.tgid = ev.event_data.fork.child_tgid;
      e.parent_pid = ev.event_data.fork.parent_tgid;
      break;
    case proc_event::PROC_EVENT_EXEC:
      e.what = proc_connector_event::kind::exec;
      e.pid = ev.event_data.exec.process_pid;
      e.tgid = ev.event_data.exec.process_tgid;
      break;
    case proc_event::PROC_EVENT_EXIT:
      e.what = proc_connector_event::kind::exit;
      e.pid = ev.event_data.exit.process_pid;
      e.tgid = ev.event_data.exit.process_tgid;
      e.exit_code = ev.event_data.exit.exit_code;
      e.exit_signal = ev.event_data.exit.exit_signal;
      e.parent_pid = ev.event_data.exit.parent_tgid;
      break;
    default:
      continue;
    }
    out.push_back(e);
  }
  return true;
}

} // namespace pg::actors::realtime
