// One client: read, parse, batch into the chain, reply in order, write with back-pressure.
#include "connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "event_loop.hpp"
#include "server.hpp"

namespace mcfront {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerEvent = 4;  // then other clients get their turn (level-triggered)

}  // namespace

Connection::Connection(EventLoop& loop, int fd)
    : loop_(loop), fd_(fd), parser_(loop.server().config().limits) {
  last_active_ns_ = loop_.server().chain().monotonic_ns();
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
  delete next_;
}

void Connection::on_readable() {
  last_active_ns_ = loop_.now_ns();
  thread_local char chunk[kReadChunk];  // read here, append what came (no zero-filled growth)
  for (int i = 0; i < kReadsPerEvent && reading_ && !quit_; ++i) {
    ssize_t n = ::read(fd_, chunk, kReadChunk);
    if (n > 0) {
      in_.append(chunk, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < kReadChunk) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    close();  // EOF or a reset: memcached drops what it still owed such a client
    return;
  }
  parse_input();
}

void Connection::on_writable() {
  write_out();
  // Requests already read but not parsed while the client was backlogged: no new bytes may
  // come (the client waits for these replies), so parsing resumes here, not on EPOLLIN.
  if (!closed() && in_head_ < in_.size() && !backlogged()) parse_input();
}

bool Connection::backlogged() const {
  const FrontConfig& cfg = loop_.server().config();
  return slots_.size() >= cfg.max_pending || out_.size() - out_head_ >= cfg.max_output;
}

void Connection::parse_input() {
  // Bounded by the bytes read (at most kReadsPerEvent chunks per event): every round either
  // parses requests or ends.
  for (;;) {
    while (!quit_ && !closed() && !backlogged()) {
      size_t n = parser_.next(in_.data() + in_head_, in_.size() - in_head_, scratch_);
      if (n == 0) break;
      in_head_ += n;
      if (scratch_.cmd != Cmd::None) accept_request(scratch_);
    }
    if (in_head_ == in_.size()) {
      in_.clear();
      in_head_ = 0;
    } else if (in_head_ > 64 * 1024) {
      in_.erase(0, in_head_);
      in_head_ = 0;
    }
    submit_next();
    size_t queued = slots_.size();
    flush_ready();
    // Replies that went out may have made room (max_pending, max_output) for requests that
    // are already read: no new bytes (no EPOLLIN) may come for them, so parse them now.
    if (closed() || quit_ || slots_.size() == queued || backlogged() || in_head_ == in_.size())
      return;
  }
}

void Connection::accept_request(Request& req) {
  Server& server = loop_.server();
  server.metrics().command(req.cmd);
  if (is_retrieval(req.cmd) || req.cmd == Cmd::MetaGet)
    server.stats().cmd_get += req.keys.size();
  else if (req.cmd >= Cmd::Set && req.cmd <= Cmd::Cas)
    ++server.stats().cmd_set;
  Slot& s = slots_.emplace_back();
  s.req = std::move(req);
  s.start_ns = loop_.now_ns();
  s.conn = this;
  if (!next_) next_ = new Batch{&loop_, {}, {}};
  size_t first = next_->ops.size();
  size_t n = build_ops(s.req, server.commands(), loop_.now_unix_ms(), next_->ops, s.reply);
  if (n == 0) {
    s.ready = true;
    if (s.req.cmd == Cmd::Quit || s.req.close) quit_ = true;
    ReplyInfo info;
    info.client_error = s.req.cmd == Cmd::Error;
    info.server_error = s.reply.starts_with("SERVER_ERROR");
    server.metrics().replied(info, 0.0);
    if (info.client_error || info.server_error) ++server.stats().errors;
    return;
  }
  s.first_op = first;
  s.op_count = n;
  next_->slots.push_back(&s);
}

void Connection::submit_next() {
  if (in_flight_ || !next_ || next_->ops.empty() || closed()) return;
  in_flight_ = loop_.enqueue(*next_);  // submitted with the other clients' at the turn's end
  next_->ops.clear();
  next_->slots.clear();
}

void Connection::finish_slot(Slot& s, const strata_chain_op* ops) {
  Server& server = loop_.server();
  ReplyInfo info;
  encode_reply(s.req, ops + s.first_op, s.op_count, s.reply, info);
  s.ready = true;
  server.stats().get_hits += info.hits;
  server.stats().get_misses += info.misses;
  if (info.client_error || info.server_error) ++server.stats().errors;
  uint64_t now = loop_.now_ns();
  server.metrics().replied(info, static_cast<double>(now - s.start_ns) / 1e9);
}

void Connection::batch_finished() {
  in_flight_ = nullptr;
  if (closed()) return;
  last_active_ns_ = loop_.now_ns();
  parse_input();  // stages what was parsed meanwhile, replies, resumes a paused reader
}

void Connection::flush_ready() {
  bool closing = false;
  while (!slots_.empty() && slots_.front().ready) {
    Slot& s = slots_.front();
    out_ += s.reply;
    closing = s.req.cmd == Cmd::Quit || s.req.close;
    slots_.pop_front();
    if (closing) break;
  }
  if (closing) {
    slots_.clear();  // nothing after quit is answered (nothing was parsed after it)
    close_after_write_ = true;
  }
  write_out();
}

void Connection::write_out() {
  while (!closed() && out_head_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_head_, out_.size() - out_head_, MSG_NOSIGNAL);
    if (n > 0) {
      out_head_ += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      close();
      return;
    }
  }
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
    if (close_after_write_) {
      close();
      return;
    }
  } else if (out_head_ > 1024 * 1024) {
    out_.erase(0, out_head_);
    out_head_ = 0;
  }
  update_interest();
}

void Connection::update_interest() {
  if (closed()) return;
  uint32_t want = 0;
  if (reading_ && !quit_ && !backlogged()) want |= EPOLLIN;
  if (out_head_ < out_.size()) want |= EPOLLOUT;
  if (want != interest_) {
    interest_ = want;
    loop_.set_interest(*this, want);
  }
}

void Connection::shut_reading() {
  reading_ = false;
  update_interest();
}

void Connection::close() {
  if (fd_ < 0) return;
  loop_.forget(*this);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace mcfront
