// SPDX-License-Identifier: Apache-2.0
// PodWatcher: the pods of one node, kept current from the Kubernetes API over HTTPS (libcurl).
// List (fieldSelector spec.nodeName=<node>), then watch from the list's resourceVersion with
// bookmarks; an expired resourceVersion (410 Gone, as a status or as a watch ERROR event) means
// list again. The bearer token is read from its file for every request (tokens rotate).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "k8s/pods.h"

namespace vigil::k8s {

struct ClientOptions {
  std::string api_server; // "https://10.96.0.1:443"
  std::string token_file; // "" : no Authorization header
  std::string ca_file;    // "" : the system's CAs
  std::string node;       // spec.nodeName to select
  std::chrono::seconds watch_timeout{300}; // the server ends each watch after this
};

// Cumulative counters for /metrics.
struct WatcherStats {
  std::atomic<uint64_t> lists{0};   // successful lists
  std::atomic<uint64_t> expired{0}; // 410 Gone: resourceVersion too old, re-listed
  std::atomic<uint64_t> errors{0};  // failed requests (connection, TLS, HTTP status, bad JSON)
  std::atomic<uint64_t> events{0};  // watch events applied (bookmarks included)
};

class PodWatcher {
public:
  // Called on the watcher's thread after each change of the pod set (a list or an event).
  using OnChange = std::function<void()>;

  // Starts the thread. Error when the options are unusable (no server, no node).
  static Result<std::unique_ptr<PodWatcher>> start(ClientOptions opts, OnChange on_change);
  ~PodWatcher();
  // Ends the request in flight and joins the thread.
  void stop();

  // The pods known now, by uid.
  std::map<std::string, Pod> pods() const;
  std::optional<Pod> pod(const std::string &uid) const;
  size_t size() const
  {
    std::lock_guard lock(mu_);
    return pods_.size();
  }
  // Whether a list has succeeded at least once.
  bool synced() const { return synced_.load(); }
  const WatcherStats &stats() const { return stats_; }

private:
  PodWatcher() = default;
  void run() noexcept;
  // One list; true with rv_ set on success.
  bool list();
  // One watch from rv_; returns when it ends. Sets relist_ on 410.
  void watch();
  void apply(const std::string &line);
  void sleep_for(std::chrono::milliseconds d);
  // GET url; body to sink. Returns the HTTP status, or -1 with why set.
  long get(const std::string &url, std::function<void(long, std::string_view)> sink, long timeout_s,
           std::string &why);
  std::string pods_url(bool watch) const;

  ClientOptions opts_;
  OnChange on_change_;
  mutable std::mutex mu_; // guards pods_
  std::map<std::string, Pod> pods_;
  std::string rv_;    // watcher thread only
  bool relist_ = true;
  std::string partial_; // a watch line not yet complete
  WatcherStats stats_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread thread_;
};

} // namespace vigil::k8s
