// SPDX-License-Identifier: Apache-2.0
// Alert serialisation, the stderr and JSON-lines sinks, and the HTTP sink (libcurl).
#include "export/sinks.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/text.h"
#include "export/formats.h"

namespace vigil::exporter {

nlohmann::json to_json(const detect::Alert &a)
{
  nlohmann::json j;
  j["time"] = detect::format_time(a.time_ns);
  j["hostname"] = a.hostname;
  j["profile"] = a.profile;
  j["rule"] = a.rule;
  if (!a.rule_description.empty())
    j["description"] = a.rule_description;
  j["tags"] = a.tags;
  j["severity"] = std::string(policy::to_string(a.severity));
  j["output"] = escape_text(a.output); // the sentence is for people; the fields below are raw
  j["event"] = std::string(pipeline::to_string(a.event_type));
  j["verdict"] = std::string(pipeline::to_string(a.verdict));
  j["tier"] = std::string(pipeline::to_string(a.tier));
  j["pid"] = a.pid;
  j["ppid"] = a.ppid;
  j["uid"] = a.uid;
  j["comm"] = a.comm;
  j["exe"] = a.exe;
  j["argv"] = a.argv;
  nlohmann::json anc = nlohmann::json::array();
  for (const auto &p : a.ancestry)
    anc.push_back({{"pid", p.pid}, {"exe", p.exe}, {"argv", p.argv}});
  j["ancestry"] = std::move(anc);
  j["cgroup"] = a.cgroup;
  j["cgroup_id"] = a.cgroup_id;
  if (const detect::Workload &w = a.workload; !w.pod.empty())
    j["k8s"] = {{"namespace", w.ns},         {"pod", w.pod},
                {"pod_uid", w.pod_uid},      {"container", w.container},
                {"container_id", w.container_id}, {"image", w.image}};
  j["result"] = a.result;
  j["result_name"] = detect::describe_errno(a.result);
  if (!a.path.empty())
    j["path"] = a.path;
  if (a.target_pid)
    j["target_pid"] = a.target_pid;
  if (!a.dest_ip.empty())
    j["destination"] = {{"ip", a.dest_ip}, {"port", a.dest_port}, {"family", a.dest_family}};
  if (!a.source_ip.empty()) {
    j["source"] = {{"ip", a.source_ip}, {"port", a.source_port}, {"family", a.dest_family}};
    j["destination"] = {{"port", a.dest_port}, {"protocol", a.protocol}};
  }
  if (!a.env.empty())
    j["env"] = a.env;
  if (!a.detail.empty())
    j["detail"] = a.detail;
  if (a.bytes)
    j["bytes"] = a.bytes;
  if (!a.response.action.empty())
    j["response"] = {{"action", a.response.action},
                     {"result", a.response.result},
                     {"target", a.response.target}};
  return j;
}

std::string stderr_line(const detect::Alert &a)
{
  std::string sev(policy::to_string(a.severity));
  for (auto &ch : sev)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  // The sentence holds paths, names and argv the agent chose: one line per alert, whatever bytes
  // they hold, and nothing that talks to the terminal.
  std::string line = "vigil: " + sev + " ";
  append_escaped(line, a.rule);
  line += " [";
  append_escaped(line, a.profile);
  line += "] ";
  append_escaped(line, a.output);
  line += '\n';
  return line;
}

size_t footprint(const detect::Alert &a)
{
  auto strings = [](const std::vector<std::string> &v) {
    size_t n = 0;
    for (const auto &s : v)
      n += sizeof(std::string) + s.size();
    return n;
  };
  size_t n = sizeof(detect::Alert) + a.hostname.size() + a.profile.size() + a.rule.size() +
             a.rule_description.size() + a.output.size() + a.comm.size() + a.exe.size() +
             a.cgroup.size() + a.path.size() + a.dest_ip.size() + a.detail.size() +
             a.response.action.size() + a.response.result.size() + a.response.target.size() +
             strings(a.tags) + strings(a.argv) + strings(a.env);
  for (const auto &p : a.ancestry)
    n += sizeof(p) + p.exe.size() + strings(p.argv);
  const detect::Workload &w = a.workload;
  return n + w.ns.size() + w.pod.size() + w.pod_uid.size() + w.container.size() +
         w.container_id.size() + w.image.size();
}

void StderrSink::write(const detect::Alert &a)
{
  const std::string line = stderr_line(a);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

Result<std::unique_ptr<JsonLinesSink>> JsonLinesSink::open(const std::string &path, Shape shape)
{
  if (path == "-")
    return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(STDOUT_FILENO, false, shape));
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    return fail_errno(errno, "open alerts file " + path);
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(fd, true, shape));
}

JsonLinesSink::~JsonLinesSink()
{
  if (owned_)
    ::close(fd_);
}

void JsonLinesSink::write(const detect::Alert &a)
{
  const nlohmann::json j = shape_ == Shape::falco ? to_falco_json(a) : to_json(a);
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  if (!owned_) // stdout: after what vigil printed there through stdio
    std::fflush(stdout);
  // One write(2) for the whole line (stdio would cut a long one at its buffer size); a short
  // write (a full disk, a signal) goes on from where it stopped.
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) { // a non-blocking descriptor shared with someone (stdout)
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 1000) > 0)
        continue;
    }
    if (n <= 0) {
      if (off > 0) // end the torn line, so that the next alert is a line of its own
        (void)!::write(fd_, "\n", 1);
      if (std::exchange(warned_, true))
        return;
      spdlog::warn("alerts file: write failed: {}", std::strerror(n < 0 ? errno : EIO));
      return;
    }
    off += static_cast<size_t>(n);
  }
}

namespace {

size_t discard_body(char *, size_t size, size_t nmemb, void *)
{
  return size * nmemb;
}

std::string sink_name(const HttpSinkOptions &o)
{
  return o.kind == HttpSinkOptions::Kind::alertmanager ? "alertmanager" : "webhook";
}

} // namespace

Result<std::unique_ptr<HttpSink>> HttpSink::start(HttpSinkOptions opts, SinkCounters counters)
{
  if (opts.url.rfind("http://", 0) != 0 && opts.url.rfind("https://", 0) != 0)
    return fail(sink_name(opts) + " URL '" + opts.url + "' must start with http:// or https://");
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL *curl = curl_easy_init();
  if (!curl)
    return fail("libcurl: cannot create a handle for the " + sink_name(opts) + " sink");
  std::unique_ptr<HttpSink> s(new HttpSink(std::move(opts), counters));
  s->curl_ = curl;
  HttpSink *self = s.get();
  s->thread_ = std::thread([self] { self->run(); });
  return s;
}

HttpSink::HttpSink(HttpSinkOptions opts, SinkCounters counters)
    : opts_(std::move(opts)), counters_(counters)
{
  endpoint_ = opts_.url;
  if (opts_.kind == HttpSinkOptions::Kind::alertmanager) {
    while (!endpoint_.empty() && endpoint_.back() == '/')
      endpoint_.pop_back();
    endpoint_ += "/api/v2/alerts";
  }
}

HttpSink::~HttpSink()
{
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    abandon_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  curl_easy_cleanup(static_cast<CURL *>(curl_));
}

void HttpSink::write(const detect::Alert &a)
{
  bool log = false;
  size_t held = 0, held_bytes = 0;
  const size_t bytes = footprint(a);
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= opts_.queue_capacity ||
        queued_bytes_ + bytes > opts_.queue_max_bytes) {
      counters_.dropped->Increment();
      const auto now = std::chrono::steady_clock::now();
      if (now - last_log_ > std::chrono::seconds(10)) {
        last_log_ = now;
        log = true;
        held = queue_.size();
        held_bytes = queued_bytes_;
      }
    } else {
      queue_.push_back(a);
      queued_bytes_ += bytes;
      counters_.queue->Set(static_cast<double>(queue_.size()));
    }
  }
  if (log)
    spdlog::warn("{} sink: queue full ({} alerts, {} bytes), dropping alerts until {} answers",
                 sink_name(opts_), held, held_bytes, endpoint_);
  cv_.notify_all();
}

void HttpSink::drain(std::chrono::milliseconds budget)
{
  std::unique_lock lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  if (!cv_.wait_for(lock, budget, [&] { return done_; }))
    abandon_ = true;
  lock.unlock();
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

bool HttpSink::wait_for(std::chrono::milliseconds d)
{
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return abandon_; });
  return !abandon_;
}

std::string HttpSink::body(const HttpSinkOptions &opts, const std::vector<detect::Alert> &batch)
{
  nlohmann::json j;
  if (opts.kind == HttpSinkOptions::Kind::alertmanager) {
    j = nlohmann::json::array();
    for (const auto &a : batch)
      j.push_back(to_alertmanager_alert(a, opts.alertmanager_hold));
  } else if (!batch.empty()) {
    j = opts.shape == JsonLinesSink::Shape::falco ? to_falco_json(batch.front())
                                                   : to_json(batch.front());
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool HttpSink::post(const std::string &body, std::string &why)
{
  CURL *c = static_cast<CURL *>(curl_);
  curl_slist *headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:"); // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_URL, endpoint_.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); // no SIGALRM in a threaded daemon
  curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
  const CURLcode res = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (res != CURLE_OK) {
    why = curl_easy_strerror(res);
    return false;
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) {
    why = "HTTP " + std::to_string(code);
    return false;
  }
  return true;
}

void HttpSink::run() noexcept
{
  const std::string name = sink_name(opts_);
  while (true) {
    std::vector<detect::Alert> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (abandon_ || queue_.empty()) {
        counters_.dropped->Increment(static_cast<double>(queue_.size()));
        queue_.clear();
        queued_bytes_ = 0;
        counters_.queue->Set(0);
        done_ = true;
        cv_.notify_all();
        return;
      }
      const size_t n =
          opts_.kind == HttpSinkOptions::Kind::alertmanager ? std::min(opts_.batch, queue_.size())
                                                            : 1;
      for (size_t i = 0; i < n; ++i) {
        queued_bytes_ -= std::min(queued_bytes_, footprint(queue_.front()));
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      counters_.queue->Set(static_cast<double>(queue_.size()));
    }
    const std::string payload = body(opts_, batch);
    auto backoff = opts_.backoff_initial;
    for (unsigned attempt = 1;; ++attempt) {
      std::string why;
      if (post(payload, why)) {
        counters_.delivered->Increment(static_cast<double>(batch.size()));
        break;
      }
      counters_.failed->Increment();
      const bool last = opts_.max_attempts && attempt >= opts_.max_attempts;
      {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        if (last || now - last_log_ > std::chrono::seconds(10)) {
          last_log_ = now;
          spdlog::warn("{} sink: POST {} failed ({}), attempt {}{}", name, endpoint_, why,
                       attempt, last ? ": alerts dropped" : ", retrying");
        }
      }
      if (last || !wait_for(backoff)) {
        counters_.dropped->Increment(static_cast<double>(batch.size()));
        break;
      }
      backoff = std::min(backoff * 2, opts_.backoff_max);
    }
  }
}

} // namespace vigil::exporter
