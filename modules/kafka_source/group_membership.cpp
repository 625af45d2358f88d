// kafka_source's group membership: the rebalance callback (assign, revoke, lost), the answers
// given while the consumer closes, resuming newly assigned partitions at the watermarks stored
// with the data, and pause/resume applied to whatever is assigned.
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bounded_call.hpp"
#include "kafka_source.hpp"

namespace kafka_source {
namespace {

// rd_kafka_pause_partitions / rd_kafka_resume_partitions for a set of partitions (none: no call).
template <class Partitions>
void pause_in_rdkafka(rd_kafka_t* rk, const Partitions& partitions, bool pause) {
  if (partitions.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& [topic, partition] : partitions)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  if (pause)
    rd_kafka_pause_partitions(rk, list);
  else
    rd_kafka_resume_partitions(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
}

}  // namespace

void KafkaSource::on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<KafkaSource*>(opaque)->rebalance(err, parts);
}

// Every rebalance event of the close is answered with an unassign, and never with a call
// that could wait forever (bounded_call.hpp): a revoke as usual (commit, forget, unassign),
// an assignment that arrives anyway is declined. Sets abandoned_ if the call did not return
// within the close's deadline.
void KafkaSource::answer_during_close(rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* parts, uint64_t deadline) {
  rebalances_.add();
  bool revoke = err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS;
  if (revoke)
    hand_back(parts);
  else
    host_.info("declined " + describe(parts) + ": the consumer is closing");
  std::shared_ptr<rd_kafka_topic_partition_list_t> copy(rd_kafka_topic_partition_list_copy(parts),
                                                        rd_kafka_topic_partition_list_destroy);
  rd_kafka_t* rk = rk_;
  bool incremental = cooperative_;
  uint64_t now = host_.monotonic_ns();
  int64_t left_ms = now < deadline ? int64_t((deadline - now) / 1000000u) : 0;
  bool answered = call_within(left_ms, [rk, copy, incremental, revoke] {
    rd_kafka_error_t* e = nullptr;
    if (!incremental)
      rd_kafka_assign(rk, nullptr);
    else if (revoke)
      e = rd_kafka_incremental_unassign(rk, copy.get());
    else
      e = rd_kafka_incremental_assign(rk, copy.get());  // made an unassign by the close
    if (e) rd_kafka_error_destroy(e);
  });
  if (!answered) abandoned_ = true;
}

void KafkaSource::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  rebalances_.add();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) return assign(parts, cooperative_);
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) return revoke(parts, cooperative_);
  host_.error(std::string("rebalance failed: ") + rd_kafka_err2str(err));
  {
    std::lock_guard<std::mutex> lock(mu_);
    owned_.clear();
  }
  rd_kafka_assign(rk_, nullptr);
}

void KafkaSource::assign(rd_kafka_topic_partition_list_t* parts, bool cooperative) {
  rd_kafka_topic_partition_list_t* resumed =
      resume_from_watermark_ ? resume_positions(parts) : nullptr;
  if (replay_) {
    try {
      replay_->place(rk_, parts, 10000, [this](const std::string& m) { host_.warn(m); });
      host_.info("replaying " + replay_->describe());
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      fatal_ = e.what();  // poll() fails with it: the replay cannot know where to start
    }
  }
  lift_pauses(parts);  // before the assign: see pause_mu_
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts)) {
      host_.error(std::string("incremental assign: ") + rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(rk_, parts);
  }
  if (resumed) {
    // The watermark is durable: store it as the position to commit, so the committed
    // offset catches up even for a partition that gets no new record.
    rd_kafka_offsets_store(rk_, resumed);
    rd_kafka_topic_partition_list_destroy(resumed);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = host_.monotonic_ns();
    for (int i = 0; i < parts->cnt; ++i)
      owned_.assigned(PartitionKey(parts->elems[i].topic, parts->elems[i].partition), now);
  }
  host_.info("assigned " + describe(parts) +
             (is_paused() ? " (paused: each partition once its fetch has started)" : ""));
}

// Commits what the pipeline acked before another member takes these partitions over (after
// a lost assignment the group has moved on and a commit would be refused) and forgets them.
// Async: the next owner resumes from the watermark stored with the data, so a commit that
// is late (or never lands) costs skipped replays, never a wrong value, and a slow
// coordinator cannot hold the rebalance (or a SIGTERM) hostage.
void KafkaSource::hand_back(const rd_kafka_topic_partition_list_t* parts) {
  if (!rd_kafka_assignment_lost(rk_)) rd_kafka_commit(rk_, nullptr, 1);
  forget(parts);
  host_.info("revoked " + describe(parts));
}

void KafkaSource::revoke(rd_kafka_topic_partition_list_t* parts, bool cooperative) {
  hand_back(parts);
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts)) {
      host_.error(std::string("incremental unassign: ") + rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(rk_, nullptr);
  }
}

// Drops revoked partitions and the records held for them. Held records were never delivered
// nor committed: the next owner reads them again, so nothing is lost.
void KafkaSource::forget(const rd_kafka_topic_partition_list_t* parts) {
  std::lock_guard<std::mutex> lock(mu_);
  ++revokes_;
  std::set<PartitionKey> gone;
  for (int i = 0; i < parts->cnt; ++i)
    gone.emplace(parts->elems[i].topic, parts->elems[i].partition);
  for (const auto& tp : gone) owned_.revoked(tp);
  for (auto it = held_.begin(); it != held_.end();) {
    if (gone.count(PartitionKey(rd_kafka_topic_name((*it)->rkt), (*it)->partition))) {
      rd_kafka_message_destroy(*it);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

// Starts each newly assigned partition at the watermark its pipeline stored with the data,
// when there is one: it is where the durable writes stopped, so records between Kafka's
// committed offset and it are not read again. Also when it is behind the committed offset
// (a Redis restored from an older snapshot): the records it misses are then written again.
// Returns the partitions it moved (owned by the caller), or null.
rd_kafka_topic_partition_list_t* KafkaSource::resume_positions(
    rd_kafka_topic_partition_list_t* parts) {
  rd_kafka_topic_partition_list_t* resumed = nullptr;
  std::string said;
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& p = parts->elems[i];
    int64_t at = host_.stored_position(p.topic, p.partition);
    if (at < 0) continue;
    p.offset = at;
    if (!resumed) resumed = rd_kafka_topic_partition_list_new(parts->cnt);
    rd_kafka_topic_partition_list_add(resumed, p.topic, p.partition)->offset = at;
    said += (said.empty() ? "" : ", ") + std::string(p.topic) + " [" + std::to_string(p.partition) +
            "]@" + std::to_string(at);
  }
  if (resumed) host_.info("resuming at the stored watermarks: " + said);
  return resumed;
}

bool KafkaSource::is_paused() {
  std::lock_guard<std::mutex> lock(mu_);
  return paused_;
}

void KafkaSource::set_paused(bool pause) {
  {
    std::lock_guard<std::mutex> order(pause_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (paused_ == pause) return;
      paused_ = pause;
    }
    if (!rk_ || closed_) return;  // the flag alone: poll() pauses what it reads from
    if (!pause && !rdkafka_paused_.empty()) {
      // Each of these was read from before its pause, or is not assigned: no fetch start of
      // theirs can be in flight.
      pause_in_rdkafka(rk_, rdkafka_paused_, false);
      rdkafka_paused_.clear();
    }
  }
  if (pause) pause_fetching();
  host_.info(pause ? "paused" : "resumed");
}

// While paused: pauses in librdkafka every owned partition read from since its assignment (its
// fetch start is served) and not paused yet. The others keep fetching until their first record
// or their end arrives, held by poll(), which calls this again.
void KafkaSource::pause_fetching() {
  std::lock_guard<std::mutex> order(pause_mu_);
  std::vector<PartitionKey> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!paused_ || !rk_ || closed_) return;
    for (const auto& tp : owned_.fetching())
      if (!rdkafka_paused_.count(tp)) todo.push_back(tp);
  }
  pause_in_rdkafka(rk_, todo, true);
  rdkafka_paused_.insert(todo.begin(), todo.end());
}

// librdkafka keeps an application pause on the partition object across unassign and assign: a
// partition paused (durable tier down), revoked, then assigned back after the resume would
// stay paused for good, fetched by no member (the fault-matrix stall, seed 372893748). Such
// pauses are lifted here, before the assign: the resume is queued ahead of the fetch start the
// assign will issue, so it cannot make librdkafka drop that start (see pause_mu_).
void KafkaSource::lift_pauses(const rd_kafka_topic_partition_list_t* parts) {
  std::lock_guard<std::mutex> order(pause_mu_);
  std::vector<PartitionKey> lift;
  for (int i = 0; i < parts->cnt; ++i) {
    PartitionKey tp(parts->elems[i].topic, parts->elems[i].partition);
    if (rdkafka_paused_.erase(tp) != 0) lift.push_back(std::move(tp));
  }
  pause_in_rdkafka(rk_, lift, false);
}

}  // namespace kafka_source
