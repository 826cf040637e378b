// SPDX-License-Identifier: Apache-2.0
// The list-then-watch loop of PodWatcher over libcurl.
#include "k8s/watcher.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace vigil::k8s {

namespace {

std::string read_token(const std::string &file)
{
  if (file.empty())
    return "";
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
    t.pop_back();
  return t;
}

struct Transfer {
  std::function<void(long, std::string_view)> *sink;
  std::atomic<bool> *stopping;
  CURL *curl;
};

size_t on_body(char *data, size_t size, size_t n, void *ctx) noexcept
{
  auto *t = static_cast<Transfer *>(ctx);
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  (*t->sink)(code, std::string_view(data, size * n));
  return size * n;
}

// Polled by libcurl about once a second and on every chunk: a non-zero return aborts the
// transfer, which is how stop() ends a watch that may otherwise idle for minutes.
int on_progress(void *ctx, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept
{
  return static_cast<Transfer *>(ctx)->stopping->load() ? 1 : 0;
}

std::string escape(const std::string &s)
{
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

} // namespace

Result<std::unique_ptr<PodWatcher>> PodWatcher::start(ClientOptions opts, OnChange on_change)
{
  if (opts.api_server.empty())
    return fail("kubernetes: no API server (set kubernetes.api_server, or run in a pod where "
                "KUBERNETES_SERVICE_HOST is set)");
  if (opts.node.empty())
    return fail("kubernetes: no node name (set kubernetes.node, or NODE_NAME from the downward "
                "API)");
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!opts.api_server.empty() && opts.api_server.back() == '/')
    opts.api_server.pop_back();
  std::unique_ptr<PodWatcher> w(new PodWatcher());
  w->opts_ = std::move(opts);
  w->on_change_ = std::move(on_change);
  PodWatcher *self = w.get();
  w->thread_ = std::thread([self] { self->run(); });
  return w;
}

PodWatcher::~PodWatcher()
{
  stop();
}

void PodWatcher::stop()
{
  {
    std::lock_guard lock(sleep_mu_);
    stopping_.store(true);
  }
  sleep_cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

std::map<std::string, Pod> PodWatcher::pods() const
{
  std::lock_guard lock(mu_);
  return pods_;
}

std::optional<Pod> PodWatcher::pod(const std::string &uid) const
{
  std::lock_guard lock(mu_);
  auto it = pods_.find(uid);
  if (it == pods_.end())
    return std::nullopt;
  return it->second;
}

void PodWatcher::sleep_for(std::chrono::milliseconds d)
{
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

std::string PodWatcher::pods_url(bool watch) const
{
  std::string url = opts_.api_server + "/api/v1/pods?fieldSelector=" +
                    escape("spec.nodeName=" + opts_.node);
  if (watch)
    url += "&watch=1&allowWatchBookmarks=true&resourceVersion=" + escape(rv_) +
           "&timeoutSeconds=" + std::to_string(opts_.watch_timeout.count());
  return url;
}

long PodWatcher::get(const std::string &url, std::function<void(long, std::string_view)> sink,
                     long timeout_s, std::string &why)
{
  CURL *c = curl_easy_init();
  if (!c) {
    why = "curl_easy_init failed";
    return -1;
  }
  Transfer t{&sink, &stopping_, c};
  curl_slist *headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string token = read_token(opts_.token_file);
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (!opts_.ca_file.empty())
    curl_easy_setopt(c, CURLOPT_CAINFO, opts_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  // A watch may be silent for minutes; keepalive finds a peer that vanished without a word.
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); // no SIGALRM in a threaded daemon
  curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  const CURLcode res = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  // A watch that the server ends (timeoutSeconds) or that our own timeout ends is normal.
  if (res != CURLE_OK && !(res == CURLE_OPERATION_TIMEDOUT && code == 200)) {
    why = curl_easy_strerror(res);
    return code == 200 && res == CURLE_ABORTED_BY_CALLBACK ? 200 : -1;
  }
  return code;
}

bool PodWatcher::list()
{
  std::string body, why;
  const long code = get(
      pods_url(false), [&](long, std::string_view d) { body.append(d); }, 60, why);
  if (code != 200) {
    stats_.errors.fetch_add(1);
    spdlog::warn("kubernetes: list pods on node {}: {}", opts_.node,
                 code < 0 ? why : "HTTP " + std::to_string(code) + " " + body.substr(0, 200));
    return false;
  }
  auto parsed = parse_pod_list(body);
  if (!parsed) {
    stats_.errors.fetch_add(1);
    spdlog::warn("{}", parsed.error().message());
    return false;
  }
  {
    std::lock_guard lock(mu_);
    pods_.clear();
    for (auto &p : parsed->first)
      pods_[p.uid] = std::move(p);
  }
  rv_ = parsed->second;
  relist_ = false;
  stats_.lists.fetch_add(1);
  synced_.store(true);
  spdlog::info("kubernetes: {} pod(s) on node {} (resourceVersion {})", parsed->first.size(),
               opts_.node, rv_);
  on_change_();
  return true;
}

void PodWatcher::apply(const std::string &line)
{
  if (line.empty() || relist_)
    return;
  auto ev = parse_watch_event(line);
  if (!ev) {
    stats_.errors.fetch_add(1);
    spdlog::warn("{}", ev.error().message());
    return;
  }
  stats_.events.fetch_add(1);
  if (ev->type == "ERROR") {
    if (ev->code == 410) {
      stats_.expired.fetch_add(1);
      spdlog::info("kubernetes: resourceVersion {} expired ({}); listing again", rv_,
                   ev->message);
    } else {
      stats_.errors.fetch_add(1);
      spdlog::warn("kubernetes: watch error {}: {}", ev->code, ev->message);
    }
    relist_ = true; // whatever the error, a fresh list is the safe restart
    return;
  }
  if (!ev->resource_version.empty())
    rv_ = ev->resource_version;
  if (ev->type == "BOOKMARK")
    return;
  {
    std::lock_guard lock(mu_);
    if (ev->type == "DELETED")
      pods_.erase(ev->pod.uid);
    else
      pods_[ev->pod.uid] = ev->pod;
  }
  spdlog::debug("kubernetes: {} pod {}/{}", ev->type, ev->pod.ns, ev->pod.name);
  on_change_();
}

void PodWatcher::watch()
{
  const auto started = std::chrono::steady_clock::now();
  partial_.clear();
  std::string why, error_body;
  const long code = get(
      pods_url(true),
      [&](long status, std::string_view d) {
        if (status != 200) { // a Status object instead of a stream
          if (error_body.size() < 4096)
            error_body.append(d.substr(0, 4096));
          return;
        }
        partial_.append(d);
        size_t nl;
        while ((nl = partial_.find('\n')) != std::string::npos) {
          std::string line = partial_.substr(0, nl);
          partial_.erase(0, nl + 1);
          apply(line);
        }
      },
      opts_.watch_timeout.count() + 30, why);
  if (stopping_.load())
    return;
  if (code == 410) {
    stats_.expired.fetch_add(1);
    spdlog::info("kubernetes: resourceVersion {} expired (410 Gone); listing again", rv_);
    relist_ = true;
    return;
  }
  if (code != 200) {
    stats_.errors.fetch_add(1);
    spdlog::warn("kubernetes: watch pods on node {}: {}", opts_.node,
                 code < 0 ? why : "HTTP " + std::to_string(code) + " " + error_body);
    relist_ = true;
    sleep_for(std::chrono::seconds(1));
    return;
  }
  // A server that ends every watch at once must not be asked again in a tight loop.
  if (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(200))
    sleep_for(std::chrono::milliseconds(200));
}

void PodWatcher::run() noexcept
{
  auto backoff = std::chrono::milliseconds(500);
  while (!stopping_.load()) {
    if (relist_) {
      if (!list()) {
        sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
        continue;
      }
      backoff = std::chrono::milliseconds(500);
    }
    watch();
  }
}

} // namespace vigil::k8s
