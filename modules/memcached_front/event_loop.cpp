// The event loop: epoll (level-triggered) over the shared listener, an eventfd for the chain's
// completions, and this loop's connections.
#include "event_loop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "connection.hpp"
#include "server.hpp"

namespace mcfront {
namespace {
// The loop inside chain_submit on this thread: a completion posted by that same call (the host
// answered from L1 before returning) needs no eventfd write; run() drains it right after.
thread_local const EventLoop* tl_submitting = nullptr;
}  // namespace

EventLoop::EventLoop(Server& server, int listen_fd) : server_(server), listen_fd_(listen_fd) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || wake_fd_ < 0) throw std::runtime_error("epoll/eventfd failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_tag_;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one loop wakes per new client
  ev.data.ptr = &listen_tag_;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0)
    throw std::runtime_error("epoll_ctl(listener) failed");
}

EventLoop::~EventLoop() {
  drain_completions();  // late completions: reply nowhere, but release the chain's storage
  delete pending_;      // never submitted
  for (Connection* c : conns_) delete c;
  for (Connection* c : dead_) delete c;
  if (epfd_ >= 0) ::close(epfd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EventLoop::on_chain_done(void* user, strata_chain_op*, size_t) {
  auto* b = static_cast<Batch*>(user);
  b->loop->post(b);
}

void EventLoop::post(Batch* batch) {
  bool refused = batch->refused;
  bool need_wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_.push_back(batch);
    if (tl_submitting != this) {
      need_wake = !wake_pending_;  // one eventfd write per burst of completions
      wake_pending_ = true;
    }
  }
  if (need_wake) wake();
  // Last touch of the server: once in_flight() is 0 the loops may be destroyed.
  if (!refused) server_.in_flight().fetch_sub(1, std::memory_order_acq_rel);
}

void EventLoop::wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is already non-zero, the loop wakes anyway
}

void EventLoop::drain_completions() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    local_.swap(done_);
    wake_pending_ = false;  // a completion posted after this wakes the loop again
  }
  for (Batch* b : local_) finish_batch(b);
  local_.clear();
}

void EventLoop::tick() {
  now_ns_ = server_.chain().monotonic_ns();
  now_unix_ms_ = -1;
}

int64_t EventLoop::now_unix_ms() {
  if (now_unix_ms_ < 0) now_unix_ms_ = server_.chain().now_unix_ms();
  return now_unix_ms_;
}

void EventLoop::finish_batch(Batch* b) {
  tick();  // the replies' time, and that of what their clients parse next
  finished_.clear();
  for (Slot* s : b->slots) {
    s->conn->finish_slot(*s, b->ops.data());
    if (finished_.empty() || finished_.back() != s->conn) finished_.push_back(s->conn);
  }
  if (!b->refused) server_.chain().release(b->ops.data(), b->ops.size());
  delete b;
  // After the replies are encoded: batch_finished() may pop (free) the slots.
  std::vector<Connection*> conns;
  conns.swap(finished_);
  for (Connection* c : conns) c->batch_finished();
  conns.clear();
  finished_.swap(conns);
}

Batch* EventLoop::enqueue(Batch& staged) {
  if (!pending_) pending_ = new Batch{this, {}, {}};
  size_t base = pending_->ops.size();
  pending_->ops.insert(pending_->ops.end(), staged.ops.begin(), staged.ops.end());
  for (Slot* s : staged.slots) {
    s->first_op += base;
    pending_->slots.push_back(s);
  }
  return pending_;
}

void EventLoop::submit_pending() {
  if (!pending_) return;
  Batch* b = pending_;
  pending_ = nullptr;
  server_.in_flight().fetch_add(1);
  tl_submitting = this;
  strata_status st =
      server_.chain().submit(b->ops.data(), b->ops.size(), &EventLoop::on_chain_done, b);
  tl_submitting = nullptr;
  if (st == STRATA_OK) return;
  server_.in_flight().fetch_sub(1);
  for (auto& op : b->ops) {
    op.status = st;
    std::snprintf(op.error, sizeof op.error, "the tier chain refused the request (%s)",
                  server_.stopping() ? "front stopping" : "chain shutting down");
  }
  b->refused = true;
  post(b);  // answered like any completion, on the next turn
}

void EventLoop::set_interest(Connection& conn, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &conn;
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, conn.fd(), &ev);
}

void EventLoop::forget(Connection& conn) {
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, conn.fd(), nullptr);
  if (conns_.erase(&conn)) {
    dead_.push_back(&conn);
    --server_.stats().curr_connections;
    server_.metrics().connection_closed();
  }
}

void EventLoop::accept_all() {
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN (another loop took it), or a transient error
    FrontStats& st = server_.stats();
    if (st.curr_connections.load() >= server_.config().max_connections) {
      static const char kFull[] = "ERROR Too many open connections\r\n";  // memcached's words
      ssize_t n = ::send(fd, kFull, sizeof kFull - 1, MSG_NOSIGNAL);
      (void)n;
      ::close(fd);
      ++st.rejected_connections;
      server_.metrics().refused_connection();
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* conn = new Connection(*this, fd);
    conns_.insert(conn);
    ++st.curr_connections;
    ++st.total_connections;
    server_.metrics().connection_opened();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = conn;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    conn->set_initial_interest(EPOLLIN);
  }
}

void EventLoop::sweep_idle(uint64_t now_ns) {
  int64_t idle_ms = server_.config().idle_timeout_ms;
  if (idle_ms <= 0 || now_ns - last_sweep_ns_ < 1'000'000'000ull) return;
  last_sweep_ns_ = now_ns;
  uint64_t limit = static_cast<uint64_t>(idle_ms) * 1'000'000ull;
  if (now_ns < limit) return;
  std::vector<Connection*> idle;
  for (Connection* c : conns_)
    if (c->idle_since(now_ns - limit)) idle.push_back(c);
  for (Connection* c : idle) c->close();
}

void EventLoop::reap() {
  size_t keep = 0;
  for (Connection* c : dead_) {
    if (c->has_in_flight())
      dead_[keep++] = c;
    else
      delete c;
  }
  dead_.resize(keep);
}

bool EventLoop::drained() const {
  for (Connection* c : conns_)
    if (c->has_in_flight()) return false;
  for (Connection* c : dead_)
    if (c->has_in_flight()) return false;
  return true;
}

void EventLoop::begin_stop() {
  stopping_ = true;
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
  for (Connection* c : conns_) c->shut_reading();
}

void EventLoop::run() {
  epoll_event events[256];
  for (;;) {
    int n = ::epoll_wait(epfd_, events, 256, stopping_ ? 20 : 1000);
    tick();
    for (int i = 0; i < n; ++i) {
      void* p = events[i].data.ptr;
      if (p == &listen_tag_) {
        if (!stopping_) accept_all();
      } else if (p == &wake_tag_) {
        uint64_t v;
        ssize_t r = ::read(wake_fd_, &v, sizeof v);
        (void)r;
      } else {
        auto* c = static_cast<Connection*>(p);
        if (events[i].events & (EPOLLHUP | EPOLLERR)) {
          c->close();  // reset or both halves shut: nothing more can be written to it
          continue;
        }
        if (!c->closed() && (events[i].events & EPOLLIN)) c->on_readable();
        if (!c->closed() && (events[i].events & EPOLLOUT)) c->on_writable();
      }
    }
    drain_completions();
    // A submit the host answered inline (every key an L1 hit) is replied to at once; the
    // replies may let clients parse requests they had pipelined, submitted the same way, a
    // few rounds per turn so that other clients' events are not kept waiting. Ops still
    // staged after that go out next turn, which nothing else would wake.
    for (int round = 0; round < 4 && pending_; ++round) {
      submit_pending();
      drain_completions();
    }
    if (pending_) wake();
    uint64_t now = server_.chain().monotonic_ns();
    if (server_.stopping() && !stopping_) begin_stop();
    sweep_idle(now);
    reap();
    if (stopping_ && (drained() || now >= server_.stop_deadline_ns())) break;
  }
  std::vector<Connection*> open(conns_.begin(), conns_.end());
  for (Connection* c : open) c->close();
  reap();
}

}  // namespace mcfront
